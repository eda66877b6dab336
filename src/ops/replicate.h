// ops/replicate.h: copying a repository to a second location (another region, another backend).
//
// The replica is the same repository (same id, key slots and keys): it opens with the same
// password or key file and restores byte for byte what the source restores. `replicate` copies
// every object the target lacks, authenticating each one on the way (packs: header, trailer and
// every blob; index objects, manifests, marks and cluster info: their envelopes; WAL objects:
// their AEAD), so damage in the source is reported and never spread. Objects are immutable and
// named for good, so a run is idempotent and resumable: an interrupted run leaves complete
// objects only (each is published atomically by the target's put) and the next run continues.
//
// Safe while backups write to the source: the source is listed in the reverse of its write
// order (manifests, then index objects, then packs and WAL) and copied in write order (packs and
// WAL, index objects, manifests), so every copied index lists only copied packs and every copied
// manifest only copied chunks. Locks and staging files are never copied. Key slots are copied
// before `config`, which makes a new replica visible last. Objects deleted from the source (by a
// future prune) are not deleted from the replica.
#pragma once

#include <functional>
#include <string>

#include "ops/chunk_pipeline.h"
#include "repo/repository.h"
#include "storage/storage.h"

namespace sr::ops {

struct ReplicateOptions {
  bool dry_run = false;  // only measure what is missing (the lag)
  Counters* counters = nullptr;
};

struct ReplicateResult {
  uint64_t source_objects = 0, present_objects = 0;
  // What the target lacked when the run started: the replication lag.
  uint64_t missing_objects = 0, missing_bytes = 0;
  int64_t newest_missing_backup_ns = 0;  // end time of the newest backup not yet replicated
  uint64_t copied_objects = 0, copied_bytes = 0;
  bool created = false;  // the target was empty and became a replica
};

ReplicateResult replicate(repo::Repository& source, storage::Storage& target,
                          const ReplicateOptions& options);

}  // namespace sr::ops

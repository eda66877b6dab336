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
// Each object copy checks ctx.check_cancelled() (Errc::kCancelled; what was copied stays, a
// later run continues); progress goes to ctx.progress.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "base/context.h"
#include "repo/repository.h"
#include "storage/storage.h"

namespace sr::ops {

struct ReplicateOptions {
  bool dry_run = false;  // only measure what is missing (the lag)
};

struct ReplicateResult {
  uint64_t source_objects = 0, present_objects = 0;
  // What the target lacked when the run started: the replication lag.
  uint64_t missing_objects = 0, missing_bytes = 0;
  int64_t newest_missing_backup_ns = 0;  // end time of the newest backup not yet replicated
  uint64_t copied_objects = 0, copied_bytes = 0;
  bool created = false;        // the target was empty and became a replica
  std::string source, target;  // descriptions (no secrets)
  double seconds = 0;
  int64_t finished_ns = 0;  // when the run ended (the lag's age is measured from it)

  double newest_missing_backup_age_seconds() const {
    return newest_missing_backup_ns
               ? static_cast<double>(finished_ns - newest_missing_backup_ns) / 1e9
               : 0;
  }
  // What `replicate --json` prints: source, target, created, source_objects, lag {objects,
  // bytes[, newest_unreplicated_backup, newest_unreplicated_backup_age_seconds]},
  // copied_objects, copied_bytes, seconds.
  nlohmann::json to_json() const;
};

ReplicateResult replicate(repo::Repository& source, storage::Storage& target,
                          const ReplicateOptions& options, const OpContext& ctx);

}  // namespace sr::ops

// ops/prune.h: `strongroom prune`: deletes what no backup references, safely beside running
// backups and WAL pushes, and crash-safe at every step.
//
// 1. Mark (shared lock: backups go on): every manifest's chunks go into a disk-backed set
//    (repo::ChunkSet: memory does not grow with the repository). Every indexed pack is measured
//    against it: `dead` (no live chunk), `sparse` (its unused share above max_unused), or kept;
//    packs that no index lists (leftovers of interrupted backups) are dead.
// 2. Grace: a candidate (dead or sparse pack, staging leftover) is acted on only once it has
//    been found unreferenced by a run at least `grace` earlier (the prune plan, `prune/…`, keeps
//    when each was first found). So a pack written by a backup whose lock another host took for
//    stale, or whose manifest is about to be written, is not touched. Staging files wait at
//    least 15 minutes whatever the grace (an archive_command's upload may be in flight: WAL
//    pushes take no lock). grace 0 acts at once (one host, nothing running).
// 3. Repack (shared lock): the live chunks of eligible sparse packs are stored again, in new
//    packs with their own index objects.
// 4. Sweep (exclusive lock, waited for up to lock_wait): manifests that appeared since the mark
//    add their chunks; a pack still holding a live chunk that has no other copy is kept. Then, in
//    this order: new index objects for every remaining pack; a deletion record naming the index
//    objects they replace; removal of the old index objects; removal of the packs; WAL below
//    each stanza's oldest backup's start segment (PostgreSQL restores cannot use it); eligible
//    staging files; stale locks; the new plan replaces the old ones.
//    A crash at any point leaves a repository that verifies: before the index is replaced every
//    pack is still there; after, removed packs are in no index, and not-yet-removed ones are
//    unindexed leftovers the next prune removes.
// Object-lock retention (decision 0004): a delete the store refuses is reported and skipped;
// the object stays for a later run.
// Prune refuses to run (kCorrupt, nothing deleted) when an index object cannot be read or a
// referenced chunk is in no index: the packs involved would look unreferenced.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/context.h"
#include "repo/repository.h"

namespace sr::ops {

struct PruneOptions {
  int64_t grace_seconds = 3600;
  double max_unused = 0.10;  // repack a pack when more than this share of its bytes is unused
  // The clock of the grace period: the real one (a what-if `--now` only in dry runs, so that a
  // clock set for tests can never make fresh objects look old).
  int64_t now_ns = 0;
  int lock_wait_seconds = 600;
  bool dry_run = false;
  int crash_at = 0;  // tests only: die (SIGKILL) at this step of the sweep (1-6; 0: never)
};

struct PruneResult {
  bool dry_run = false;
  uint64_t backups = 0, packs = 0, pack_bytes = 0, live_chunks = 0;
  uint64_t live_bytes = 0;  // stored bytes of the referenced chunks (in the packs measured)
  uint64_t dead_packs = 0, dead_bytes = 0;        // unreferenced packs (indexed or not)
  uint64_t sparse_packs = 0, sparse_bytes = 0;    // packs above max_unused
  uint64_t waiting_packs = 0, waiting_bytes = 0;  // candidates still inside the grace period
  uint64_t removed_packs = 0, removed_pack_bytes = 0;
  uint64_t repacked_packs = 0, repack_written_bytes = 0;
  uint64_t kept_after_recheck = 0;  // candidates a backup made meanwhile references
  uint64_t index_objects_removed = 0, index_objects_written = 0;
  uint64_t wal_removed = 0, wal_bytes = 0;
  uint64_t staging_removed = 0, staging_bytes = 0, staging_waiting = 0;
  uint64_t stale_locks_removed = 0;
  uint64_t refused_deletes = 0;  // deletes the store refused (object lock): left for later
  std::string deletion_record, plan;
  std::vector<std::string> wal_floors;  // "stanza: segment" — WAL below it was removed

  uint64_t freed_bytes() const;
  nlohmann::json to_json() const;
};

PruneResult prune(repo::Repository& repo, const PruneOptions& options, const OpContext& ctx);

}  // namespace sr::ops

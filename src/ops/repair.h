// ops/repair.h: `strongroom repair index` and the missing-pack check of backups.
//
// repair_index rebuilds the index from the packs themselves, as restic's `repair index` does:
// under an exclusive lock it lists data/, reads each pack (header and trailer, authenticated
// through Repository::read_pack_info; a pack that fails is reported and left out), publishes
// new index objects describing every sound pack, and only then removes the index objects that
// were there before (write first, delete after: a crash at any point leaves a repository whose
// index covers every sound pack, at worst twice). It invents no data: chunks whose pack is gone
// are in no index afterwards, so verify reports the backups that used them as damaged. The
// removed index objects are strongroom's own deletions: this client's state forgets them (other
// clients report them once; see docs/user-guide.md). Checks ctx.check_cancelled() per pack;
// ctx.progress counts packs (files) and their bytes.
//
// warn_missing_packs is what a backup runs after loading the index (which lists data/ once and
// flags the indexed packs that are missing, see Repository::load_index): chunks in those packs
// are stored again instead of being referenced; this says so on ctx.log(), naming a few packs.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/context.h"
#include "repo/repository.h"

namespace sr::ops {

struct RepairIndexReport {
  uint64_t packs = 0, blobs = 0;           // packs read and indexed, their blobs
  uint64_t index_objects_written = 0;      // new index objects
  uint64_t index_objects_removed = 0;      // old index objects removed
  std::vector<std::string> damaged_packs;  // "name: why" (left out of the index)
  std::vector<std::string> missing_packs;  // indexed before, absent from data/ (first 100)
  uint64_t missing_pack_count = 0;

  // What `repair index --json` prints: packs, blobs, index_objects_written,
  // index_objects_removed, damaged_packs, missing_packs, missing_pack_count.
  nlohmann::json to_json() const;
};

RepairIndexReport repair_index(repo::Repository& repo, const OpContext& ctx);

// Warns on ctx.log() about the missing packs the last load_index found. Returns how many.
size_t warn_missing_packs(repo::Repository& repo, const OpContext& ctx);

}  // namespace sr::ops

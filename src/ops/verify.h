// ops/verify.h: checking a repository.
//
// Rollback (always): the manifests and index objects this client saw before (its signed state,
// repo/client_state.h) must still be listed; what disappeared is a problem (`rollback`).
// Missing packs are one problem with their count and the first few names.
// Structure (always): every index object decrypts and parses; every indexed pack exists with
// the indexed size; every manifest decrypts; every backup's tree reads; every chunk a tree
// references is indexed and lies in a pack that exists. With read_data, every indexed chunk is
// also read, authenticated, decompressed and its keyed id recomputed. Each problem is reported
// with the backups it affects. Packs that no index names (leftovers of an interrupted backup)
// are counted but are not problems: a later prune removes them.
// Reading data checks ctx.check_cancelled() per chunk (Errc::kCancelled) and adds the bytes read
// to ctx.progress.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/context.h"
#include "ops/source_checks.h"
#include "repo/repository.h"

namespace sr::ops {

struct VerifyOptions {
  bool read_data = false;
  // With read_data: only the packs of slice `k` of `n` (1 <= k <= n; a pack's slice is its name's
  // first 8 hex digits mod n), so that n daily runs read the whole repository. {0, 0}: all.
  uint32_t subset_k = 0, subset_n = 0;
  // Per-source freshness and WAL continuity (ops/source_checks.h) when `sources.config` is set.
  SourceChecksOptions sources;
  // Replace this client's state with the repository as it is now (after an investigation of
  // a reported rollback); what went missing is then reported in `rollback` but not a problem.
  bool accept_state = false;
};

struct VerifyReport {
  std::vector<std::string> problems;
  std::set<std::string> damaged_backups;
  uint64_t backups = 0, packs = 0, chunks_checked = 0, bytes_read = 0;
  uint64_t unreferenced_packs = 0, index_objects = 0;
  uint64_t missing_packs = 0;                   // indexed packs absent from the repository
  std::vector<std::string> missing_pack_names;  // the first few of them
  repo::StateDiff rollback;  // what this client saw before that the repository lacks now
  bool state_accepted = false;
  bool read_data = false;               // whether the data was read (VerifyOptions::read_data)
  uint32_t subset_k = 0, subset_n = 0;  // the slice read, when not all
  std::vector<SourceCheck> sources;     // per configured source; their problems are in `problems`
  int64_t now_ns = 0;                   // the clock the source checks used
  bool ok() const { return problems.empty(); }

  // What `verify --json` prints: ok, problems, missing_packs, missing_pack_names, rollback
  // (went_backwards, missing_manifests, rolled_back_series, missing_index_objects),
  // state_accepted, damaged_backups, backups, packs, index_objects, unreferenced_packs,
  // chunks_checked, bytes_read, read_data, read_data_subset ("k/n" or null), sources (one
  // SourceCheck::to_json() per configured source checked).
  nlohmann::json to_json() const;
};

VerifyReport verify(repo::Repository& repo, const VerifyOptions& options, const OpContext& ctx);

}  // namespace sr::ops

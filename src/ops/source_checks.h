// ops/source_checks.h: what `verify` checks for each configured source, beyond the repository's
// structure: freshness (the newest backup younger than max_age; for PostgreSQL the newest stored
// WAL within max_wal_lag, else the RPO) and continuity (the WAL from every backup of the stanza
// to the newest WAL has no gap and no broken timeline switch), and the point-in-time recovery
// window it gives (from the oldest backup whose chain holds to the newest stored WAL), against
// the configured pitr_window.
//
// Times: backups by their end time; WAL by when the store says its newest object was written
// (storage::ObjectInfo::mtime_ns: local files' mtime, S3/Azure Last-Modified). Every finding
// names the source and the backups it affects.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/context.h"
#include "config/config.h"
#include "repo/repository.h"

namespace sr::ops {

struct SourceChecksOptions {
  const config::Config* config = nullptr;
  std::string repository = "primary";
  std::vector<std::string> sources;  // only these (empty: every source of the repository)
  int64_t now_ns = 0;
};

struct SourceCheck {
  std::string source, type, kind;
  size_t backups = 0;
  std::string newest_backup;  // id ("" when none)
  int64_t newest_backup_end_ns = 0;
  int64_t max_age_s = 0;
  bool fresh = false;
  // PostgreSQL
  std::string stanza;
  int64_t newest_wal_ns = 0;             // 0: none, or the store does not say
  std::optional<int64_t> max_wal_lag_s;  // verify.max_wal_lag, else rpo
  bool wal_fresh = true;
  bool continuous = true;
  int64_t window_start_ns = 0, window_end_ns = 0;  // 0: no recoverable window
  std::optional<int64_t> pitr_window_s;            // configured
  std::vector<std::string> problems;               // each names the source (and backups)

  bool ok() const { return problems.empty(); }
  nlohmann::json to_json() const;
};

// Throws kUsage for a named source that is not in the configuration or not in `repository`.
std::vector<SourceCheck> check_sources(repo::Repository& repo, const SourceChecksOptions& options,
                                       const OpContext& ctx);

}  // namespace sr::ops

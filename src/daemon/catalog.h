// daemon/catalog.h: the catalog snapshot behind /api and /metrics: every backup, restore test
// and source check of the configured repositories, read from the repositories themselves (so
// any daemon shows every source of a shared repository, and a lost state directory loses no
// catalog fact). Built in the background (every server.refresh_every and after each job) and
// swapped in whole, so requests read a consistent, immutable snapshot without touching storage.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/context.h"
#include "config/config.h"
#include "ops/source_checks.h"
#include "repo/repository.h"

namespace sr::daemon {

// Opens a repository of the configuration `c` by name (app/ supplies it: credentials come from
// the files and variables the configuration names). The configuration is passed at each call, so
// a reload's repositories are opened with their new settings.
using RepoOpener = std::function<std::unique_ptr<repo::Repository>(
    std::shared_ptr<const config::Config> c, const std::string& name)>;

struct BackupItem {
  std::string id, source, stanza, type, kind, host, repository;
  int64_t start_ns = 0, end_ns = 0;
  uint64_t size = 0, added = 0, files = 0;
  std::vector<std::string> tags;
  std::optional<double> size_median;  // of the previous N backups of the same source and type
  bool configured = true;  // false: a source of another host's configuration (same repository)
  nlohmann::json to_json() const;
};

struct RepositoryItem {
  std::string name, url, replicate_from;
  size_t backups = 0;
  uint64_t size_bytes = 0;
  double cost_per_gib_month = 0;
  std::optional<double> replication_lag_s;
  std::string error;  // when it could not be read
  double estimated_monthly_cost() const;
  nlohmann::json to_json() const;
};

struct Snapshot {
  int64_t taken_ns = 0;
  double build_seconds = 0;
  std::vector<BackupItem> backups;            // oldest first
  std::vector<nlohmann::json> restore_tests;  // as stored, oldest first, with "repository"
  std::vector<ops::SourceCheck> checks;       // per configured source
  std::vector<RepositoryItem> repositories;
  std::vector<std::string> errors;  // repositories that could not be read

  // The newest backup of `source` (nullptr when none).
  const BackupItem* newest_backup(const std::string& source) const;
  const nlohmann::json* newest_restore_test(const std::string& source) const;
  const ops::SourceCheck* check(const std::string& source) const;
  // Sources found in the repositories that this configuration does not have (another daemon's,
  // or backups made by hand), by name, in order of appearance.
  std::vector<std::string> other_sources() const;
};

// Reads every repository the configuration names. A repository that cannot be read is listed
// with its error (the others are still shown).
std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> c,
                                               const RepoOpener& open, int64_t now_ns,
                                               const OpContext& ctx);

}  // namespace sr::daemon

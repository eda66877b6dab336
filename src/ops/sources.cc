#include "ops/sources.h"

#include <algorithm>
#include <set>

#include "ops/pg_catalog.h"

namespace sr::ops {
namespace {

bool holds(const config::SourceConfig& s, const catalog::BackupRecord& b) {
  switch (s.type) {
    case config::SourceType::kPostgres:
      return b.kind == catalog::BackupKind::kPostgres && b.pg && b.pg->stanza == s.stanza;
    case config::SourceType::kCommand:
      return b.kind == catalog::BackupKind::kCommand && b.name == s.output_name;
    case config::SourceType::kFiles:
      return b.kind == catalog::BackupKind::kFiles &&
             std::set<std::string>(b.paths.begin(), b.paths.end()) ==
                 std::set<std::string>(s.paths.begin(), s.paths.end());
  }
  return false;
}

}  // namespace

SourceAssignment assign_backups(const std::vector<catalog::BackupRecord>& backups,
                                const config::Config& config, const std::string& repository) {
  SourceAssignment out;
  for (const auto& s : config.sources)
    if (s.repository == repository) out.sources.push_back({&s, {}});
  for (const auto& b : backups) {
    SourceBackups* into = nullptr;
    for (auto& g : out.sources) {
      bool match =
          b.config_source.empty() ? holds(*g.source, b) : b.config_source == g.source->name;
      if (match) {
        into = &g;
        break;
      }
    }
    if (into)
      into->backups.push_back(b);
    else
      out.unassigned.push_back(b);
  }
  return out;
}

std::vector<catalog::BackupRecord> all_backup_records(repo::Repository& repo) {
  std::vector<catalog::BackupRecord> out;
  for (const auto& m : repo.list_manifests()) out.push_back(backup_record(m));
  return out;
}

}  // namespace sr::ops

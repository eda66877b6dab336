// ops/sources.h: which configured source each backup belongs to.
//
// A backup made with `backup --source NAME` records the name (manifest `config_source`). Older
// backups, and those made with flags, are matched by what they hold: a PostgreSQL backup by its
// stanza, a command backup by its output name, a files backup by the same set of paths. Only the
// sources of `repository` are considered. A backup that matches no source is `unassigned`:
// policies (retention) never touch it.
#pragma once

#include <string>
#include <vector>

#include "catalog/backup_record.h"
#include "config/config.h"
#include "repo/repository.h"

namespace sr::ops {

struct SourceBackups {
  const config::SourceConfig* source = nullptr;
  std::vector<catalog::BackupRecord> backups;  // as listed (oldest first)
};

struct SourceAssignment {
  std::vector<SourceBackups> sources;  // every source of the repository, in file order
  std::vector<catalog::BackupRecord> unassigned;
};

SourceAssignment assign_backups(const std::vector<catalog::BackupRecord>& backups,
                                const config::Config& config, const std::string& repository);

// Every manifest of the repository as a record; kCorrupt naming a manifest that cannot be read
// (a policy decided over a partial list could remove what a damaged manifest's backup needs).
std::vector<catalog::BackupRecord> all_backup_records(repo::Repository& repo);

}  // namespace sr::ops

// catalog/backup_record.h: typed records of backups, for decisions made without the repository.
//
// A BackupRecord holds what the upper layers decide on: identity, kind, source, host, times,
// sizes, parent link, tags, and for PostgreSQL backups the PgBackupInfo (catalog/pg_record.h).
// Records are built from manifests by ops/ (ops/pg_catalog.h; the catalog cannot see repo/) or by
// hand in tests. Everything here is pure: no I/O.
//
// backup_chain(): the backups a diff or incr backup was taken against, back to its full backup,
// following parent ids. A missing parent, a cycle, or a chain that ends in a diff/incr backup
// without a parent is an error naming the backup (kNotFound for a parent that is gone, kCorrupt
// for the others). For files and command backups the chain is the parent links as recorded.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "catalog/pg_record.h"

namespace sr::catalog {

enum class BackupKind { kFiles, kCommand, kPostgres };
std::string to_string(BackupKind kind);
// "files" | "command" | "postgres"; throws Error{kCorrupt} naming `what` otherwise.
BackupKind parse_backup_kind(const std::string& text, const std::string& what);

struct BackupRecord {
  std::string id;  // 32 hex characters
  BackupKind kind = BackupKind::kFiles;
  std::string source, host, user, name;
  int64_t start_ns = 0, end_ns = 0;
  uint64_t size = 0, stored_size = 0, added_size = 0, file_count = 0;
  std::string parent;  // id of the backup whose unchanged files this one reused; may be empty
  std::vector<std::string> tags;
  std::vector<std::string> paths;  // files backups: the paths given
  std::string config_source;       // the configuration's source that made it ("" if none)
  std::optional<PgBackupInfo> pg;  // set for kind kPostgres

  std::string short_id() const { return id.substr(0, 8); }
  bool is_full() const;  // a PostgreSQL full backup, or any backup that is not PostgreSQL diff/incr
};

// The records of one stanza's PostgreSQL backups, oldest stop time first (stable for ties).
std::vector<BackupRecord> pg_backups_of(const std::vector<BackupRecord>& all,
                                        const std::string& stanza);

// The backup a new PostgreSQL backup of `type` is taken against: none for full, the newest
// (by start time) full backup of the stanza for diff, the newest of any type for incr. Throws
// kNotFound when a diff/incr has none.
const BackupRecord* parent_for(const std::vector<BackupRecord>& backups, const std::string& stanza,
                               PgBackupType type);

// The backup with `id` first, then its parent, … , ending with its full backup.
std::vector<const BackupRecord*> backup_chain(const std::vector<BackupRecord>& backups,
                                              const std::string& id);

}  // namespace sr::catalog

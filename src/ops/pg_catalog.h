// ops/pg_catalog.h: the repository seen as a catalog (catalog/): manifests become typed records,
// the WAL store becomes a WalArchive value.
//
// The catalog cannot see repo/, so this adapter is the one place in ops that turns a
// repo::Manifest into a catalog::BackupRecord. A PostgreSQL manifest whose pg record is damaged
// is an error naming the manifest (kCorrupt), not a skipped backup; records of other stanzas are
// passed over without being validated.
#pragma once

#include <string>
#include <vector>

#include "catalog/recovery.h"
#include "repo/repository.h"
#include "repo/wal_store.h"

namespace sr::ops {

// Throws kCorrupt when the manifest is a PostgreSQL backup with a damaged pg record.
catalog::BackupRecord backup_record(const repo::Manifest& m);
// The stanza's PostgreSQL backups, oldest stop time first, and what could not be read: manifests
// that do not open (their stanza is unknown) and this stanza's manifests whose pg record is
// damaged, each "ID: reason". Another stanza's records are passed over without being judged.
struct PgBackupRecords {
  std::vector<catalog::BackupRecord> backups;
  std::vector<std::string> damaged;
};
PgBackupRecords pg_backup_records(repo::Repository& repo, const std::string& stanza);
// Throws kCorrupt naming the damaged manifests, when there are any: a choice among the stanza's
// backups (the newest, the one before a target) could silently fall on an older backup.
// `what` says what was being chosen; the message suggests naming a backup with --backup.
void refuse_choice_over_damage(const PgBackupRecords& records, const std::string& what);
// Every segment (complete or streamed) and timeline history of the stanza's WAL archive.
catalog::WalArchive load_wal_archive(repo::WalStore& store, uint64_t segment_size);

}  // namespace sr::ops

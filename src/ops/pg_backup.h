// ops/pg_backup.h: physical backups of a running PostgreSQL cluster.
//
// Non-exclusive backup: pg_backup_start (fast checkpoint), the data directory read directly and
// in parallel (files PostgreSQL's documentation excludes are left out, see pg/data_dir.h),
// pg_backup_stop (which waits until the stop segment is archived), then the backup is recorded
// only once every WAL segment from the start to the stop LSN is confirmed in the repository:
// a backup that cannot be restored is never reported complete.
//   full: every file is read.
//   diff: files unchanged since the newest full backup (size, mtime, ctime, inode, with a
//         one-second margin for timestamp granularity) reuse that backup's chunks.
//   incr: the same against the newest backup of the stanza.
// Every backup restores on its own (chunks are shared, not deltas).
// The backup's record is a catalog::PgBackupInfo (catalog/pg_record.h), stored as the manifest's
// extra["pg"]; the parent is the catalog's choice (catalog::parent_for). Progress, warnings (files
// that could not be read) and cancellation go through the OpContext.
#pragma once

#include <string>
#include <vector>

#include "base/context.h"
#include "ops/backup.h"

namespace sr::ops {

struct PgBackupOptions {
  std::string stanza = "main";
  std::string pg_data, pg_conn;
  std::string type = "full";  // full | diff | incr
  std::string name;           // optional label
  std::vector<std::string> tags;
  std::string config_source;    // the configuration's source name, recorded in the manifest
  int lock_wait_seconds = 600;  // while expire or prune holds the exclusive lock
  int wal_timeout_seconds = 120;
};

BackupResult backup_postgres(repo::Repository& repo, const PgBackupOptions& options,
                             const OpContext& ctx);

}  // namespace sr::ops

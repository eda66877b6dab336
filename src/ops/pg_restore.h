// ops/pg_restore.h: restoring a PostgreSQL cluster, to the end of the WAL or to a point in time.
//
// Everything that can be checked is checked before a single file is written: the backup that
// fits the target (the newest one that ended before it), the target itself (not before that
// backup, an LSN not past the archived WAL), and the WAL chain from the backup's start through
// every timeline switch (history files) — a missing segment is named. Then the files are
// restored (ops/restore), backup_label is written, and recovery is configured: restore_command
// calling `strongroom wal-get` with the same repository and password file, the target,
// recovery.signal. With start, the server is started, and the restore waits until recovery has
// reached the target (promoted, paused or shut down) and reports how long it all took (the RTO).
#pragma once

#include <string>

#include "ops/restore.h"

namespace sr::ops {

struct PgRestoreOptions {
  std::string stanza = "main";
  std::string target_dir;
  std::string backup;       // id/prefix; empty: chosen from the target
  std::string target_kind;  // "", time, lsn, xid, name, immediate
  std::string target_value;
  std::string target_action = "promote";  // promote | pause | shutdown
  bool force = false;
  // Update the data directory in place (restore --delta); refused while a server runs there.
  bool delta = false;
  // Tablespaces go back to the locations recorded in the backup, which must be empty or absent
  // (or, with delta, hold that tablespace), unless mapped: "OID=DIR" entries, or `tablespace_dir`
  // for every tablespace (DIR/OID). The target gets pg_tblspc/OID symlinks to them.
  std::vector<std::string> tablespace_map;
  std::string tablespace_dir;
  bool start = false;
  int port = 0;
  bool archive = false;  // keep archive_mode of the restored configuration
  std::string repo_url, password_file, key_file, self_exe, pg_bin;
  Counters* counters = nullptr;
};

struct PgRestoreResult {
  std::string backup_id;
  RestoreResult files;
  double restore_seconds = 0, recovery_seconds = 0;
  std::string state;  // after --start: "promoted", "paused", "shut down"
};

PgRestoreResult restore_postgres(repo::Repository& repo, const PgRestoreOptions& options);

}  // namespace sr::ops

// ops/pg_restore.h: restoring a PostgreSQL cluster, to the end of the WAL or to a point in time.
//
// Everything that can be checked is checked before a single file is written: the backup that
// fits the target (the newest one that ended before it), the target itself (not before that
// backup, an LSN not past the archived WAL), and the WAL chain from the backup's start through
// every timeline switch (history files) — a missing segment is named. Then the files are
// restored (ops/restore), backup_label is written, and recovery is configured: restore_command
// calling `strongroom wal-get` with the same repository and password file, the target,
// recovery.signal. With start, the server is started (pg/server.h: the given port or a free
// loopback port, a private socket directory) and the restore waits, bounded by
// recovery_timeout_seconds, until recovery has reached the target (promoted, paused or shut down)
// and reports how long it all took (the RTO); the server is left running.
// The decisions (which backup, which WAL) are the catalog's (catalog/recovery.h); progress and
// logging go through the OpContext, and cancellation is honoured while files are restored and
// while the server starts or recovers.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/context.h"
#include "ops/restore.h"
#include "pg/server.h"

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
  // Tablespaces go where they are mapped ("OID=DIR" entries, or `tablespace_dir` for every
  // tablespace: DIR/OID); the others into the target, <target>/pg_tblspc_data/OID, or with
  // tablespace_in_place back to the locations recorded in the backup (a backup never chooses
  // where a restore writes). A destination must be empty or absent (or, with delta or force,
  // hold that tablespace). The target gets pg_tblspc/OID symlinks to them (absolute paths).
  // Each destination is logged before anything is written (at warn when outside the target).
  std::vector<std::string> tablespace_map;
  std::string tablespace_dir;
  bool tablespace_in_place = false;
  bool same_owner = true, special_files = true;  // as RestoreOptions
  WriteMode write_mode = WriteMode::kBuffered;   // as RestoreOptions
  bool durable = true;                           // as RestoreOptions
  std::vector<std::string> server_options;       // for start: extra settings ("name=value")
  bool start = false;
  int port = 0;          // for start; 0: a free loopback port
  bool archive = false;  // keep archive_mode of the restored configuration
  std::string repo_url, password_file, key_file, self_exe, pg_bin;
  std::string ca_file;  // the CA bundle the restore used; restore_command passes it on
  // The repository came from a configuration file (absolute path) and its name there: the
  // restore_command passes them on instead of repo_url.
  std::string config_file, config_repository;
  std::string db_user = "postgres";  // for start: the database user to connect as (app: PGUSER)
  std::string server_os_user;     // as root: the OS user the started server runs as (pg/server.h)
  bool hand_over_server = false;  // for start: the result owns the server (stopped with it)
  double start_timeout_seconds = 3600;
  double recovery_timeout_seconds = 7 * 24 * 3600.0;  // a bound, not an expectation
};

struct PgRestoreResult {
  struct Tablespace {
    std::string oid, recorded, restored_to;
    std::string inside;  // relative to the target when it is the target's own pg_tblspc_data/OID
  };
  std::string backup_id, target_dir;
  std::vector<Tablespace> tablespaces;
  RestoreResult files;
  double restore_seconds = 0, recovery_seconds = 0;
  bool delta = false, started = false;
  int port = 0;                        // after start
  std::string state;                   // after start: "promoted", "paused", "shut down"
  std::shared_ptr<pg::Server> server;  // with hand_over_server: the running server
  // {id, target, files, bytes, restore_seconds; with delta: bytes_unchanged, removed;
  // special_skipped when not 0; with tablespaces: tablespaces [{oid, recorded, restored_to}];
  // after start: state, port,
  // recovery_seconds, rto_seconds}
  nlohmann::json to_json() const;
};

PgRestoreResult restore_postgres(repo::Repository& repo, const PgRestoreOptions& options,
                                 const OpContext& ctx);

}  // namespace sr::ops

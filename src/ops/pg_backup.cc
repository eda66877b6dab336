#include "ops/pg_backup.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "base/lsn.h"
#include "base/number.h"
#include "base/time_util.h"
#include "ops/lock_wait.h"
#include "ops/pg_catalog.h"
#include "pg/data_dir.h"
#include "pg/libpq_session.h"
#include "repo/lock.h"
#include "repo/wal_store.h"

namespace sr::ops {

namespace {
// New pieces an incremental may compress at kDenseLevel (zstd 6: ~85 MB/s a core on heap pages).
constexpr int64_t kDenseBudgetBytes = 32ll << 20;

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) throw_errno("cannot resolve " + p);
  return buf;
}

std::vector<catalog::DatabaseStats> database_stats(const std::string& conninfo, pg::Session& main) {
  std::vector<catalog::DatabaseStats> dbs;
  for (const auto& row :
       main.query("SELECT datname, pg_database_size(oid)::text FROM pg_database WHERE datallowconn "
                  "ORDER BY datname")) {
    catalog::DatabaseStats db{*row[0], parse_decimal<uint64_t>(*row[1], "database size"), {}};
    try {
      auto s = pg::Session::connect(conninfo, "", *row[0]);
      for (const auto& t :
           s->query("SELECT n.nspname || '.' || c.relname, c.reltuples::bigint::text, "
                    "pg_relation_size(c.oid)::text FROM pg_class c JOIN pg_namespace n ON "
                    "n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN "
                    "('pg_catalog', 'information_schema') ORDER BY pg_relation_size(c.oid) DESC "
                    "LIMIT 50"))
        db.tables.push_back({*t[0], parse_decimal<int64_t>(*t[1], "row estimate"),
                             parse_decimal<uint64_t>(*t[2], "table size")});
    } catch (const Error&) {
      // A database that refuses connections is listed without table statistics.
    }
    dbs.push_back(std::move(db));
  }
  return dbs;
}

// The server at options.pg_conn: a supported primary whose data directory is options.pg_data.
struct Server {
  std::unique_ptr<pg::Session> session;
  repo::PgInfo info;
  std::string data_dir;
  bool checksums = false;
  uint32_t page_size = 8192;
};

Server connect_and_check(const PgBackupOptions& options) {
  Server s;
  s.data_dir = real_path(options.pg_data);
  s.session = pg::Session::connect(options.pg_conn);
  pg::Session& session = *s.session;
  int version = session.server_version();
  if (version < 150000)
    throw Error(Errc::kUnsupported, "PostgreSQL " + std::to_string(version / 10000) +
                                        " is not supported (15 or later is needed)");
  std::string server_dir = real_path(session.value("SHOW data_directory"));
  if (server_dir != s.data_dir)
    throw Error(Errc::kUsage, "--pg-data " + s.data_dir +
                                  " is not the data directory of the server at " +
                                  session.describe() + " (" + server_dir + ")");
  if (session.value("SELECT pg_is_in_recovery()::text") == "true")
    throw Error(Errc::kUnsupported,
                "the server at " + session.describe() + " is a standby; back up the primary");
  s.info.system_identifier =
      session.value("SELECT system_identifier::text FROM pg_control_system()");
  s.info.version = version;
  s.info.segment_size = session.wal_segment_size();
  s.checksums = session.value("SHOW data_checksums") == "on";
  s.page_size = parse_decimal<uint32_t>(session.value("SHOW block_size"), "block_size");
  if (s.page_size < 1024 || s.page_size > 32768 || (s.page_size & (s.page_size - 1)) != 0)
    throw Error(Errc::kIo,
                "the server reports an impossible block_size " + std::to_string(s.page_size));
  return s;
}

// Reads the data directory between pg_backup_start and pg_backup_stop (the caller's).
BackupResult read_data_dir(repo::Repository& repo, const PgBackupOptions& options,
                           const Server& server, const std::optional<repo::Manifest>& parent,
                           pg::Lsn start_lsn, const OpContext& ctx) {
  pg::DataDirFilter filter(server.data_dir);
  FilesBackupOptions fo;
  fo.paths = {server.data_dir};
  fo.tags = options.tags;
  fo.config_source = options.config_source;
  fo.filter = [&filter](source::WalkItem& item) { return filter(item); };
  fo.take_lock = false;
  fo.save = false;
  fo.type = "postgres";
  fo.source = "postgres:" + options.stanza;
  fo.parent = parent ? *parent : repo::Manifest{};
  fo.block_file = [](const std::string& rel) { return pg::DataDirFilter::is_relation_file(rel); };
  fo.pages.page_size = server.page_size;
  fo.pages.verify_checksums = server.checksums;
  fo.pages.start_lsn = start_lsn.value;
  fo.pages.hash_seed = page_hash_seed(repo);
  // Incrementals and differentials compress denser: index pieces at zstd 3, and their first
  // new pieces at zstd 6 (a bounded ≈ 0.2 s on two cores); a full backup compresses for
  // throughput.
  std::atomic<int64_t> dense_budget{kDenseBudgetBytes};
  if (parent) {
    fo.pages.dense_budget = &dense_budget;
    fo.pages.dense_indexes = true;
  }
  return backup_files(repo, fo, ctx);
}

// Waits until every WAL segment the backup needs is in the repository.
void wait_for_wal(repo::WalStore& wal, const catalog::PgBackupInfo& info,
                  const PgBackupOptions& options, const OpContext& ctx) {
  double deadline = monotonic_seconds() + options.wal_timeout_seconds;
  // The archiver starts on the stop segment as soon as pg_backup_stop switched it, and a push
  // takes tens of milliseconds: poll often at first, then back off (a stat, or a HEAD request).
  auto poll = std::chrono::milliseconds(5);
  for (const auto& name : catalog::wal_needed(info).names()) {
    while (!wal.exists(name)) {
      ctx.check_cancelled("backup");
      if (monotonic_seconds() > deadline)
        throw Error(Errc::kNotFound,
                    "backup not recorded: WAL segment " + name + " (needed from " +
                        info.start_lsn.str() + " to " + info.stop_lsn.str() +
                        ") did not reach the repository within " +
                        std::to_string(options.wal_timeout_seconds) +
                        " s; is archive_command set to `strongroom wal-push --stanza " +
                        options.stanza + " … %p`?");
      std::this_thread::sleep_for(poll);
      poll = std::min(poll * 3 / 2, std::chrono::milliseconds(200));
    }
  }
}

// pg_backup_stop, and the snapshot just after it, into the record.
void stop_backup(pg::Session& session, catalog::PgBackupInfo& info) {
  // Without wait_for_archive: the WAL may arrive through archive_command or `strongroom
  // stream`; the repository itself is checked afterwards (wait_for_wal), with a deadline.
  auto stop = session.query(
      "SELECT lsn::text, pg_walfile_name(lsn), labelfile, spcmapfile FROM pg_backup_stop(false)");
  info.stop_lsn = pg::Lsn::parse(*stop[0][0]);
  info.stop_wal = *stop[0][1];
  info.backup_label = stop[0][2].value_or("");
  info.tablespace_map = stop[0][3].value_or("");
  info.stop_time_ns = now_ns();
  // Transactions not finished at the stop point: a restore to --target-xid X can start from this
  // backup only if X is one of them (taken just after the stop, so it errs on the safe side).
  auto snap = session.query(
      "SELECT pg_snapshot_xmax(s)::text, coalesce(array_to_string(ARRAY(SELECT "
      "pg_snapshot_xip(s)), ','), '') FROM pg_current_snapshot() s");
  // Read back through the record's parser, which validates the server's text.
  nlohmann::json with_snapshot = info.to_json();
  with_snapshot["stop_xmax"] = *snap[0][0];
  with_snapshot["stop_xip"] = snap[0][1].value_or("");
  info = catalog::PgBackupInfo::from_json(with_snapshot, "the snapshot at the backup's stop");
}

}  // namespace

BackupResult backup_postgres(repo::Repository& repo, const PgBackupOptions& options,
                             const OpContext& ctx) {
  auto type = catalog::parse_pg_backup_type(options.type);
  if (!type) throw Error(Errc::kUsage, "--type must be full, diff or incr");
  if (options.pg_data.empty() || options.pg_conn.empty())
    throw Error(Errc::kUsage, "a PostgreSQL backup needs --pg-data DIR and --pg-conn CONNINFO");
  repo::validate_stanza(options.stanza);
  Server server = connect_and_check(options);
  pg::Session& session = *server.session;

  auto lock = acquire_waiting(repo, "backup", false, options.lock_wait_seconds, ctx);
  repo::WalStore wal(repo, options.stanza);
  wal.check_identity(server.info);

  // The parent decides what is reused.
  std::optional<repo::Manifest> parent;
  if (*type != catalog::PgBackupType::kFull) {
    // A damaged manifest cannot be a parent; an older one serves (the backup reads more) and
    // verify reports the damage.
    auto records = pg_backup_records(repo, options.stanza);
    for (const auto& d : records.damaged)
      ctx.log().warn("backup",
                     "a backup manifest cannot be read and is not considered as the "
                     "parent (" +
                         d + ")");
    if (auto p = catalog::parent_for(records.backups, options.stanza, *type))
      parent = repo.load_manifest(p->id);
  }

  catalog::PgBackupInfo info;
  info.stanza = options.stanza;
  info.type = *type;
  info.system_identifier = server.info.system_identifier;
  info.version = server.info.version;
  info.segment_size = server.info.segment_size;
  info.data_directory = server.data_dir;
  info.data_checksums = server.checksums;
  info.start_time_ns = now_ns();
  std::string label = "strongroom " + (options.name.empty() ? options.type : options.name);
  auto start = session.query(
      "SELECT lsn::text, pg_walfile_name(lsn) FROM pg_backup_start($1, true) AS lsn", {label});
  info.start_lsn = pg::Lsn::parse(*start[0][0]);
  info.start_wal = *start[0][1];
  info.timeline = parse_decimal<pg::TimelineId>(
      session.value("SELECT timeline_id::text FROM pg_control_checkpoint()"), "timeline id");

  BackupResult result;
  try {
    result = read_data_dir(repo, options, server, parent, info.start_lsn, ctx);
  } catch (...) {
    try {
      session.query("SELECT pg_backup_stop(false)");
    } catch (const Error&) {
    }
    throw;
  }
  stop_backup(session, info);
  wait_for_wal(wal, info, options, ctx);

  info.databases = database_stats(options.pg_conn, session);
  repo::Manifest& m = result.manifest;
  m.name = options.name;
  m.extra["pg"] = info.to_json();
  m.end_time_ns = now_ns();
  repo.save_manifest(m);
  return result;
}

}  // namespace sr::ops

#include "ops/pg_backup.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstring>
#include <thread>

#include "base/time_util.h"
#include "pg/data_dir.h"
#include "pg/libpq_session.h"
#include "base/lsn.h"
#include "repo/lock.h"
#include "repo/wal_store.h"

namespace sr::ops {

using nlohmann::json;

namespace {
// New pieces an incremental may compress at kDenseLevel (zstd 6: ~85 MB/s a core on heap pages).
constexpr int64_t kDenseBudgetBytes = 32ll << 20;

std::string real_path(const std::string& p) {
  char buf[PATH_MAX];
  if (!::realpath(p.c_str(), buf)) throw_errno("cannot resolve " + p);
  return buf;
}

// The newest PostgreSQL backup of the stanza, of the given backup types.
std::optional<repo::Manifest> newest_pg_backup(repo::Repository& repo, const std::string& stanza,
                                               bool full_only) {
  std::optional<repo::Manifest> best;
  for (auto& m : repo.list_manifests()) {
    if (m.type != "postgres" || !m.extra.contains("pg")) continue;
    const json& pg = m.extra["pg"];
    if (pg.value("stanza", "") != stanza) continue;
    if (full_only && pg.value("backup_type", "") != "full") continue;
    best = m;
  }
  return best;
}

json database_stats(const std::string& conninfo, pg::Session& main) {
  json dbs = json::array();
  for (const auto& row :
       main.query("SELECT datname, pg_database_size(oid)::text FROM pg_database WHERE datallowconn "
                  "ORDER BY datname")) {
    json db = {{"name", *row[0]}, {"size", std::stoull(*row[1])}, {"tables", json::array()}};
    try {
      auto s = pg::Session::connect(conninfo, "", *row[0]);
      for (const auto& t :
           s->query("SELECT n.nspname || '.' || c.relname, c.reltuples::bigint::text, "
                    "pg_relation_size(c.oid)::text FROM pg_class c JOIN pg_namespace n ON "
                    "n.oid = c.relnamespace WHERE c.relkind = 'r' AND n.nspname NOT IN "
                    "('pg_catalog', 'information_schema') ORDER BY pg_relation_size(c.oid) DESC "
                    "LIMIT 50"))
        db["tables"].push_back(
            {{"name", *t[0]}, {"rows_estimate", std::stoll(*t[1])}, {"size", std::stoull(*t[2])}});
    } catch (const Error&) {
      // A database that refuses connections is listed without table statistics.
    }
    dbs.push_back(db);
  }
  return dbs;
}
}  // namespace

BackupResult backup_postgres(repo::Repository& repo, const PgBackupOptions& options,
                             const OpContext& ctx) {
  if (options.type != "full" && options.type != "diff" && options.type != "incr")
    throw Error(Errc::kUsage, "--type must be full, diff or incr");
  if (options.pg_data.empty() || options.pg_conn.empty())
    throw Error(Errc::kUsage, "a PostgreSQL backup needs --pg-data DIR and --pg-conn CONNINFO");
  repo::validate_stanza(options.stanza);
  std::string data_dir = real_path(options.pg_data);

  auto session = pg::Session::connect(options.pg_conn);
  int version = session->server_version();
  if (version < 150000)
    throw Error(Errc::kUnsupported, "PostgreSQL " + std::to_string(version / 10000) +
                                        " is not supported (15 or later is needed)");
  std::string server_dir = real_path(session->value("SHOW data_directory"));
  if (server_dir != data_dir)
    throw Error(Errc::kUsage, "--pg-data " + data_dir +
                                  " is not the data directory of the server at " +
                                  session->describe() + " (" + server_dir + ")");
  if (session->value("SELECT pg_is_in_recovery()::text") == "true")
    throw Error(Errc::kUnsupported,
                "the server at " + session->describe() + " is a standby; back up the primary");
  repo::PgInfo info;
  info.system_identifier =
      session->value("SELECT system_identifier::text FROM pg_control_system()");
  info.version = version;
  info.segment_size = std::stoull(
      session->value("SELECT pg_size_bytes(current_setting('wal_segment_size'))::text"));
  bool checksums = session->value("SHOW data_checksums") == "on";
  uint32_t page_size = static_cast<uint32_t>(std::stoul(session->value("SHOW block_size")));

  auto lock = repo::RepoLock::acquire(repo, "backup", false);
  repo::WalStore wal(repo, options.stanza);
  wal.check_identity(info);

  // The parent decides what is reused.
  std::optional<repo::Manifest> parent;
  if (options.type == "diff") parent = newest_pg_backup(repo, options.stanza, true);
  if (options.type == "incr") parent = newest_pg_backup(repo, options.stanza, false);
  if (options.type != "full" && !parent)
    throw Error(Errc::kNotFound, "a " + options.type +
                                     " backup needs an earlier full backup of stanza '" +
                                     options.stanza + "'; take a full backup first");

  int64_t start_ns = now_ns();
  std::string label = "strongroom " + (options.name.empty() ? options.type : options.name);
  auto start = session->query(
      "SELECT lsn::text, pg_walfile_name(lsn) FROM pg_backup_start($1, true) AS lsn", {label});
  pg::Lsn start_lsn = pg::Lsn::parse(*start[0][0]);
  std::string start_wal = *start[0][1];
  pg::TimelineId timeline = static_cast<pg::TimelineId>(
      std::stoul(session->value("SELECT timeline_id::text FROM pg_control_checkpoint()")));

  BackupResult result;
  try {
    pg::DataDirFilter filter(data_dir);
    FilesBackupOptions fo;
    fo.paths = {data_dir};
    fo.tags = options.tags;
    fo.filter = [&filter](source::WalkItem& item) { return filter(item); };
    fo.take_lock = false;
    fo.save = false;
    fo.type = "postgres";
    fo.source = "postgres:" + options.stanza;
    fo.parent = parent ? *parent : repo::Manifest{};
    fo.block_file = [](const std::string& rel) { return pg::DataDirFilter::is_relation_file(rel); };
    fo.pages.page_size = page_size;
    fo.pages.verify_checksums = checksums;
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
    result = backup_files(repo, fo, ctx);
  } catch (...) {
    try {
      session->query("SELECT pg_backup_stop(false)");
    } catch (const Error&) {
    }
    throw;
  }
  // Without wait_for_archive: the WAL may arrive through archive_command or `strongroom
  // stream`; the repository itself is checked below, with a deadline and a clear error.
  auto stop = session->query(
      "SELECT lsn::text, pg_walfile_name(lsn), labelfile, spcmapfile FROM pg_backup_stop(false)");
  pg::Lsn stop_lsn = pg::Lsn::parse(*stop[0][0]);
  std::string stop_wal = *stop[0][1];
  std::string label_file = stop[0][2].value_or("");
  std::string spcmap_file = stop[0][3].value_or("");
  int64_t stop_ns = now_ns();
  // Transactions not finished at the stop point: a restore to --target-xid X can start from this
  // backup only if X is one of them (taken just after the stop, so it errs on the safe side).
  auto snap = session->query(
      "SELECT pg_snapshot_xmax(s)::text, coalesce(array_to_string(ARRAY(SELECT "
      "pg_snapshot_xip(s)), ','), '') FROM pg_current_snapshot() s");
  std::string xmax = *snap[0][0], xip = snap[0][1].value_or("");

  // Confirm the WAL from start to stop is in the repository.
  uint64_t first = pg::segment_of(start_lsn, info.segment_size);
  uint64_t last = pg::parse_segment_name(stop_wal, info.segment_size)->segno;
  double deadline = monotonic_seconds() + options.wal_timeout_seconds;
  // The archiver starts on the stop segment as soon as pg_backup_stop switched it, and a push
  // takes tens of milliseconds: poll often at first, then back off (a stat, or a HEAD request).
  auto poll = std::chrono::milliseconds(5);
  for (uint64_t seg = first; seg <= last; ++seg) {
    std::string name = pg::SegmentName{timeline, seg}.str(info.segment_size);
    while (!wal.exists(name)) {
      if (monotonic_seconds() > deadline)
        throw Error(Errc::kNotFound,
                    "backup not recorded: WAL segment " + name + " (needed from " +
                        start_lsn.str() + " to " + stop_lsn.str() +
                        ") did not reach the repository within " +
                        std::to_string(options.wal_timeout_seconds) +
                        " s; is archive_command set to `strongroom wal-push --stanza " +
                        options.stanza + " … %p`?");
      std::this_thread::sleep_for(poll);
      poll = std::min(poll * 3 / 2, std::chrono::milliseconds(200));
    }
  }

  repo::Manifest& m = result.manifest;
  m.name = options.name;
  m.extra["pg"] = {{"stanza", options.stanza},
                   {"backup_type", options.type},
                   {"system_identifier", info.system_identifier},
                   {"version", version},
                   {"segment_size", info.segment_size},
                   {"data_directory", data_dir},
                   {"data_checksums", checksums},
                   {"timeline", timeline},
                   {"start_lsn", start_lsn.str()},
                   {"stop_lsn", stop_lsn.str()},
                   {"start_wal", start_wal},
                   {"stop_wal", stop_wal},
                   {"start_time", format_rfc3339(start_ns)},
                   {"start_time_ns", start_ns},
                   {"stop_time", format_rfc3339(stop_ns)},
                   {"stop_time_ns", stop_ns},
                   {"stop_xmax", xmax},
                   {"stop_xip", xip},
                   {"backup_label", label_file},
                   {"tablespace_map", spcmap_file},
                   {"databases", database_stats(options.pg_conn, *session)}};
  m.end_time_ns = now_ns();
  repo.save_manifest(m);
  return result;
}

}  // namespace sr::ops

#include "ops/pg_restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "base/fs.h"
#include "base/time_util.h"
#include "ops/block_file.h"
#include "ops/pg_mark.h"
#include "pg/libpq_session.h"
#include "base/lsn.h"
#include "pg/timeline_history.h"
#include "repo/lock.h"
#include "repo/wal_store.h"

extern char** environ;

namespace sr::ops {

using nlohmann::json;

namespace {

struct PgBackup {
  repo::Manifest manifest;
  std::optional<uint64_t> stop_xmax;
  std::set<uint64_t> stop_xip;
  pg::Lsn start_lsn, stop_lsn;
  int64_t stop_ns = 0;
  pg::TimelineId timeline = 1;
  uint64_t segment_size = pg::kDefaultSegmentSize;
};

std::vector<PgBackup> pg_backups(repo::Repository& repo, const std::string& stanza) {
  std::vector<PgBackup> out;
  for (auto& m : repo.list_manifests()) {
    if (m.type != "postgres" || !m.extra.contains("pg")) continue;
    const json& pg = m.extra["pg"];
    if (pg.value("stanza", "") != stanza) continue;
    PgBackup b;
    b.start_lsn = pg::Lsn::parse(pg.at("start_lsn").get<std::string>());
    b.stop_lsn = pg::Lsn::parse(pg.at("stop_lsn").get<std::string>());
    b.stop_ns = pg.at("stop_time_ns").get<int64_t>();
    b.timeline = pg.at("timeline").get<pg::TimelineId>();
    b.segment_size = pg.at("segment_size").get<uint64_t>();
    if (pg.contains("stop_xmax")) {
      b.stop_xmax = std::stoull(pg.at("stop_xmax").get<std::string>());
      std::string xip = pg.value("stop_xip", "");
      for (size_t p = 0; p < xip.size();) {
        size_t q = xip.find(',', p);
        if (q == std::string::npos) q = xip.size();
        b.stop_xip.insert(std::stoull(xip.substr(p, q - p)));
        p = q + 1;
      }
    }
    b.manifest = std::move(m);
    out.push_back(std::move(b));
  }
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.stop_ns < b.stop_ns; });
  return out;
}

std::string quote_conf(const std::string& v) {
  std::string out = "'";
  for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string shell_quote(const std::string& v) {
  std::string out = "'";
  for (char c : v) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Everything in the repository's WAL archive of the stanza, by timeline.
struct WalArchive {
  std::map<pg::TimelineId, std::set<uint64_t>> segments;
  std::map<pg::TimelineId, pg::TimelineHistory> histories;
};

WalArchive load_archive(repo::WalStore& store, uint64_t segment_size) {
  WalArchive a;
  std::vector<std::string> history_names;
  store.list([&](const std::string& name) {
    if (auto s = pg::parse_segment_name(name, segment_size))
      a.segments[s->timeline].insert(s->segno);
    else if (pg::is_history_file_name(name))
      history_names.push_back(name);
  });
  store.list_streamed([&](const std::string& name) {  // streamed, not yet complete segments
    if (auto s = pg::parse_segment_name(name, segment_size))
      a.segments[s->timeline].insert(s->segno);
  });
  for (const auto& name : history_names) {
    auto tli = static_cast<pg::TimelineId>(std::stoul(name.substr(0, 8), nullptr, 16));
    auto content = store.get(name);
    if (content)
      a.histories[tli] = pg::TimelineHistory::parse(tli, std::string(as_chars(*content)));
  }
  return a;
}

// The timelines recovery follows from `from` to the newest descendant ('latest'), with the LSN
// at which each one ends (switchpoints).
std::vector<std::pair<pg::TimelineId, std::optional<pg::Lsn>>> timeline_path(const WalArchive& a,
                                                                             pg::TimelineId from) {
  pg::TimelineId target = from;
  for (const auto& [tli, h] : a.histories) {
    bool descends = std::any_of(h.switches.begin(), h.switches.end(),
                                [&](const auto& s) { return s.parent == from; });
    if (descends && tli > target) target = tli;
  }
  std::vector<std::pair<pg::TimelineId, std::optional<pg::Lsn>>> path;
  if (target == from) return {{from, std::nullopt}};
  const auto& h = a.histories.at(target);
  bool on = false;
  for (const auto& s : h.switches) {
    if (s.parent == from) on = true;
    if (on) path.push_back({s.parent, s.switchpoint});
  }
  path.push_back({target, std::nullopt});
  return path;
}

// Checks that the WAL from the backup's start is continuous through every timeline switch up to
// the newest archived segment (or up to `until`); returns the last LSN the archive covers.
pg::Lsn check_wal_chain(const WalArchive& a, const PgBackup& b, std::optional<pg::Lsn> until,
                        std::string& final_timeline) {
  const uint64_t seg_size = b.segment_size;
  uint64_t seg = pg::segment_of(b.start_lsn, seg_size);
  auto path = timeline_path(a, b.timeline);
  pg::Lsn covered{0};
  for (size_t i = 0; i < path.size(); ++i) {
    auto [tli, end] = path[i];
    auto it = a.segments.find(tli);
    const std::set<uint64_t> empty;
    const std::set<uint64_t>& have = it == a.segments.end() ? empty : it->second;
    uint64_t last;
    if (end) {
      last = pg::segment_of(*end, seg_size);
    } else {
      last = have.empty() ? seg : *have.rbegin();
      if (until) last = std::max<uint64_t>(seg, pg::segment_of(*until, seg_size));
    }
    for (uint64_t s = seg; s <= last; ++s) {
      bool present = have.count(s) > 0;
      // The segment holding a switchpoint is also found under the child timeline's name.
      if (!present && end && s == last) {
        auto next = a.segments.find(path[i + 1].first);
        present = next != a.segments.end() && next->second.count(s);
      }
      if (!present) {
        // Missing before the newest archived segment: a gap, where replay would stop early.
        std::string name = pg::SegmentName{tli, s}.str(seg_size);
        throw Error(Errc::kNotFound,
                    "WAL segment " + name + " is missing from the repository: backup " +
                        b.manifest.id.substr(0, 8) + " needs the WAL from " + b.start_lsn.str() +
                        (until ? " to " + until->str() : std::string(" onwards")) +
                        " (a gap in archiving?)");
      }
      covered = pg::Lsn{(s + 1) * seg_size};
    }
    seg = last;
    final_timeline = std::to_string(tli);
  }
  return covered;
}

void append_text(const std::string& path, const std::string& text) {
  Fd fd = open_or_throw(path, O_WRONLY | O_CREAT | O_APPEND, 0600);
  write_all(fd.get(), as_bytes(text), path);
  if (::fsync(fd.get()) != 0) throw_errno("cannot fsync " + path);
}

int run_wait(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid;
  int rc = ::posix_spawn(&pid, args[0], nullptr, nullptr, args.data(), environ);
  if (rc != 0) throw_errno("cannot run " + argv[0], rc);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) throw_errno("waitpid");
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

// The tablespaces of a backup (its tablespace_map: "OID PATH" lines, '\' escaping newlines
// and backslashes in PATH) and where a restore puts them.
std::vector<RestoreOptions::Relocation> tablespace_destinations(const std::string& map,
                                                                const PgRestoreOptions& o) {
  std::map<std::string, std::string> original;
  std::istringstream in(map);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    auto sp = line.find(' ');
    if (sp == std::string::npos || sp == 0) throw Error(Errc::kCorrupt, "bad tablespace_map line");
    std::string path;
    for (size_t i = sp + 1; i < line.size(); ++i) {
      if (line[i] == '\\' && i + 1 < line.size()) ++i;
      path += line[i];
    }
    original[line.substr(0, sp)] = path;
  }
  std::map<std::string, std::string> mapped;
  for (const auto& m : o.tablespace_map) {
    auto eq = m.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == m.size())
      throw Error(Errc::kUsage, "--tablespace-map takes OID=DIR, not '" + m + "'");
    std::string oid = m.substr(0, eq);
    if (!original.count(oid)) {
      std::string known;
      for (const auto& [k, v] : original) known += (known.empty() ? "" : ", ") + k;
      throw Error(Errc::kUsage, "--tablespace-map: the backup has no tablespace " + oid +
                                    (known.empty() ? " (it has none)" : " (it has " + known + ")"));
    }
    mapped[oid] = m.substr(eq + 1);
  }
  std::vector<RestoreOptions::Relocation> out;
  for (const auto& [oid, path] : original) {
    std::string dest = mapped.count(oid)           ? mapped[oid]
                       : !o.tablespace_dir.empty() ? o.tablespace_dir + "/" + oid
                                                   : path;
    if (dest.empty() || dest[0] != '/')
      throw Error(Errc::kUsage,
                  "tablespace " + oid + ": destination '" + dest + "' is not an absolute path");
    if (path_exists(dest) && !dir_is_empty(dest)) {
      bool is_tablespace = false;
      if (DIR* d = ::opendir(dest.c_str())) {
        while (struct dirent* e = ::readdir(d))
          if (std::string(e->d_name).rfind("PG_", 0) == 0) is_tablespace = true;
        ::closedir(d);
      }
      if (!(o.delta || o.force) || !is_tablespace)
        throw Error(Errc::kAlreadyExists,
                    "tablespace " + oid + " would be restored to " + dest + ", which is not empty" +
                        (o.delta && !is_tablespace ? " and holds no tablespace" : "") +
                        "; map it elsewhere with --tablespace-map " + oid +
                        "=DIR (or --tablespace-dir DIR)");
    }
    out.push_back({"pg_tblspc/" + oid, dest});
  }
  return out;
}

PgRestoreResult restore_postgres(repo::Repository& repo, const PgRestoreOptions& o) {
  double t0 = monotonic_seconds();
  repo::validate_stanza(o.stanza);
  const std::set<std::string> kinds = {"", "time", "lsn", "xid", "name", "immediate"};
  if (!kinds.count(o.target_kind)) throw Error(Errc::kUsage, "unknown recovery target kind");
  if (o.target_action != "promote" && o.target_action != "pause" && o.target_action != "shutdown")
    throw Error(Errc::kUsage, "--target-action must be promote, pause or shutdown");
  if (o.start && ::geteuid() == 0)
    throw Error(Errc::kUsage,
                "--start: PostgreSQL does not run as root; run the restore as the "
                "database's OS user (the restored files belong to the user restoring)");
  if (o.password_file.empty() && o.key_file.empty())
    throw Error(Errc::kUsage,
                "a PostgreSQL restore writes a restore_command that must read the password from a "
                "file: set STRONGROOM_PASSWORD_FILE (or --password-file, or use --key-file)");

  if (o.delta && path_exists(o.target_dir)) {
    // A delta restore removes what the backup lacks: only into a PostgreSQL data directory
    // (or an empty one), and never under a running server.
    std::string pid_file = o.target_dir + "/postmaster.pid";
    if (path_exists(pid_file)) {
      Bytes pid = read_file(pid_file);
      pid.push_back(0);
      long n = std::strtol(reinterpret_cast<const char*>(pid.data()), nullptr, 10);
      if (n > 0 && (::kill(static_cast<pid_t>(n), 0) == 0 || errno == EPERM))
        throw Error(Errc::kUsage, "a PostgreSQL server (pid " + std::to_string(n) +
                                      ") is running in " + o.target_dir +
                                      "; stop it before a delta restore");
    }
    if (!path_exists(o.target_dir + "/PG_VERSION") && !dir_is_empty(o.target_dir))
      throw Error(Errc::kUsage, "--delta: " + o.target_dir +
                                    " is not a PostgreSQL data directory (no PG_VERSION); a "
                                    "delta restore would remove its contents");
  }

  auto backups = pg_backups(repo, o.stanza);
  if (backups.empty())
    throw Error(Errc::kNotFound, "stanza '" + o.stanza + "' has no PostgreSQL backups");
  std::optional<int64_t> target_ns;
  std::optional<pg::Lsn> target_lsn;
  if (o.target_kind == "time") target_ns = parse_rfc3339(o.target_value);
  if (o.target_kind == "lsn") target_lsn = pg::Lsn::parse(o.target_value);
  if (o.target_kind == "xid" && (o.target_value.empty() || o.target_value.find_first_not_of(
                                                               "0123456789") != std::string::npos))
    throw Error(Errc::kUsage, "--target-xid needs a transaction id (digits)");
  if (o.target_kind == "name" && o.target_value.empty())
    throw Error(Errc::kUsage, "--target-name needs a restore point name");

  // The backup: given, or the newest that ended before the target.
  const PgBackup* chosen = nullptr;
  if (!o.backup.empty()) {
    std::string id = repo.resolve_backup(o.backup);
    for (const auto& b : backups)
      if (b.manifest.id == id) chosen = &b;
    if (!chosen)
      throw Error(Errc::kUsage,
                  "backup " + id + " is not a PostgreSQL backup of stanza '" + o.stanza + "'");
  } else {
    // A named restore point recorded by `strongroom mark` has an LSN; one created otherwise is
    // found by replaying from the earliest backup.
    std::optional<pg::Lsn> mark_lsn;
    if (o.target_kind == "name")
      if (auto mk = find_mark(repo, o.stanza, o.target_value)) mark_lsn = pg::Lsn::parse(mk->lsn);
    std::optional<uint64_t> xid;
    if (o.target_kind == "xid") xid = std::stoull(o.target_value);
    for (const auto& b : backups) {
      if (target_ns && b.stop_ns > *target_ns) continue;
      if (target_lsn && b.stop_lsn > *target_lsn) continue;
      if (mark_lsn && b.stop_lsn > *mark_lsn) continue;
      if (o.target_kind == "name" && !mark_lsn && chosen) continue;
      if (xid) {
        if (!b.stop_xmax) continue;
        // A 32-bit xid is taken in the epoch of the backup's snapshot.
        uint64_t x = *xid >> 32 ? *xid : (*b.stop_xmax & ~0xffffffffull) | *xid;
        if (x < *b.stop_xmax && !b.stop_xip.count(x)) continue;  // committed before the backup
      }
      chosen = &b;
    }
    if (!chosen && xid)
      throw Error(Errc::kNotFound, "transaction " + o.target_value +
                                       " finished before every backup of stanza '" + o.stanza +
                                       "' ended; no backup can recover to it");
    if (!chosen)
      throw Error(Errc::kNotFound, "recovery target " + o.target_value +
                                       " is before the earliest backup of stanza '" + o.stanza +
                                       "', which ends at " +
                                       (target_ns ? format_rfc3339(backups.front().stop_ns)
                                                  : backups.front().stop_lsn.str()));
  }
  if (target_ns && *target_ns < chosen->stop_ns)
    throw Error(Errc::kUsage, "recovery target time is before backup " +
                                  chosen->manifest.id.substr(0, 8) + " ended (" +
                                  format_rfc3339(chosen->stop_ns) + ")");
  if (target_lsn && *target_lsn < chosen->stop_lsn)
    throw Error(Errc::kUsage, "recovery target LSN is before backup " +
                                  chosen->manifest.id.substr(0, 8) + " ended (" +
                                  chosen->stop_lsn.str() + ")");

  // WAL: continuous from the backup's start, through timeline switches.
  repo::WalStore store(repo, o.stanza);
  auto identity = store.identity();
  const json& pginfo = chosen->manifest.extra["pg"];
  if (identity && identity->system_identifier != pginfo.value("system_identifier", ""))
    throw Error(Errc::kCorrupt, "backup " + chosen->manifest.id +
                                    " is of another cluster than stanza '" + o.stanza + "'");
  WalArchive archive = load_archive(store, chosen->segment_size);
  std::string final_tli;
  pg::Lsn covered = check_wal_chain(archive, *chosen, target_lsn, final_tli);
  if (target_lsn && *target_lsn > covered)
    throw Error(Errc::kNotFound, "recovery target LSN " + target_lsn->str() +
                                     " is after the newest archived WAL (which ends at " +
                                     covered.str() + ")");

  // Tablespaces: where each goes, checked before anything is written.
  std::vector<RestoreOptions::Relocation> relocate =
      tablespace_destinations(pginfo.value("tablespace_map", ""), o);

  // Files.
  PgRestoreResult result;
  result.backup_id = chosen->manifest.id;
  RestoreOptions ro{o.target_dir, o.force};
  ro.delta = o.delta;
  ro.relocate = relocate;
  ro.page_hash_seed = page_hash_seed(repo);
  OpContext files_ctx;  // until restore_postgres takes an OpContext
  files_ctx.progress = o.counters;
  result.files = restore_files(repo, chosen->manifest, ro, files_ctx);
  std::string dir = o.target_dir;
  ::chmod(dir.c_str(), 0700);
  write_file_atomic(dir + "/backup_label", as_bytes(pginfo.value("backup_label", "")));
  mkdirs(dir + "/pg_wal/archive_status", 0700);

  std::string cmd = shell_quote(o.self_exe) + " wal-get --repo " + shell_quote(o.repo_url) +
                    " --stanza " + shell_quote(o.stanza) +
                    (o.key_file.empty() ? " --password-file " + shell_quote(o.password_file)
                                        : " --key-file " + shell_quote(o.key_file)) +
                    " --prefetch 8 %f %p";
  std::string conf = "\n# Added by strongroom restore of backup " + chosen->manifest.id + "\n";
  conf += "restore_command = " + quote_conf(cmd) + "\n";
  conf += "recovery_target_timeline = 'latest'\n";
  if (o.target_kind == "time")
    conf += "recovery_target_time = " + quote_conf(format_pg_timestamp(*target_ns)) + "\n";
  if (o.target_kind == "lsn")
    conf += "recovery_target_lsn = " + quote_conf(target_lsn->str()) + "\n";
  if (o.target_kind == "xid") conf += "recovery_target_xid = " + quote_conf(o.target_value) + "\n";
  if (o.target_kind == "name")
    conf += "recovery_target_name = " + quote_conf(o.target_value) + "\n";
  if (o.target_kind == "immediate") conf += "recovery_target = 'immediate'\n";
  if (!o.target_kind.empty())
    conf += "recovery_target_action = " + quote_conf(o.target_action) + "\n";
  if (!o.archive) conf += "archive_mode = 'off'\n";
  append_text(dir + "/postgresql.auto.conf", conf);
  write_file_atomic(dir + "/recovery.signal", {});
  result.restore_seconds = monotonic_seconds() - t0;
  if (!o.start) return result;

  // Start and wait for the target.
  std::string bin = o.pg_bin.empty()
                        ? "/usr/lib/postgresql/" +
                              std::to_string(pginfo.value("version", 150000) / 10000) + "/bin"
                        : o.pg_bin;
  char sock_tmpl[] = "/tmp/strongroom-pg-XXXXXX";
  if (!::mkdtemp(sock_tmpl)) throw_errno("cannot create a socket directory");
  std::string sock = sock_tmpl;
  std::string port = std::to_string(o.port ? o.port : 5432);
  std::string opts = "-p " + port + " -k " + sock;
  int rc = run_wait({bin + "/pg_ctl", "-D", dir, "-o", opts, "-l", dir + "/strongroom-start.log",
                     "-w", "-t", "3600", "start"});
  if (rc != 0 && o.target_action != "shutdown")
    throw Error(Errc::kIo,
                "the restored server did not start (see " + dir + "/strongroom-start.log)");
  std::string conninfo = "host=" + sock + " port=" + port + " dbname=postgres user=" +
                         std::string(::getenv("PGUSER") ? ::getenv("PGUSER") : "postgres");
  for (;;) {
    if (o.target_action == "shutdown" && run_wait({bin + "/pg_ctl", "-D", dir, "status"}) != 0) {
      result.state = "shut down";
      break;
    }
    try {
      auto s = pg::Session::connect(conninfo);
      bool recovering = s->value("SELECT pg_is_in_recovery()::text") == "true";
      if (!recovering && (o.target_action == "promote" || o.target_kind.empty())) {
        result.state = "promoted";
        break;
      }
      if (recovering && o.target_action == "pause" &&
          s->value("SELECT pg_get_wal_replay_pause_state()") == "paused") {
        result.state = "paused";
        break;
      }
    } catch (const Error&) {
      if (run_wait({bin + "/pg_ctl", "-D", dir, "status"}) != 0 && o.target_action != "shutdown")
        throw Error(Errc::kIo,
                    "the restored server stopped during recovery (see " + dir +
                        "/strongroom-start.log): the recovery target may not be reachable");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  result.recovery_seconds = monotonic_seconds() - t0 - result.restore_seconds;
  return result;
}

}  // namespace sr::ops

// app/main.cc: the strongroom command line. Parses options (CLI11), opens the repository with
// the capability each command needs, calls one ops:: function and prints the result. The only
// place where an Error becomes an exit code.
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "app/terminal.h"
#include "base/context.h"
#include "base/fs.h"
#include "base/log.h"
#include "base/time_util.h"
#include "ops/backup.h"
#include "ops/pg_backup.h"
#include "ops/pg_mark.h"
#include "ops/pg_restore.h"
#include "ops/replicate.h"
#include "ops/restore.h"
#include "ops/verify.h"
#include "ops/wal_archive.h"
#include "ops/wal_spool.h"
#include "ops/wal_stream.h"
#include "base/lsn.h"
#include "repo/lock.h"

using nlohmann::json;
namespace sr::app {
namespace {

struct Common {
  std::string repo;
  std::string password_file;
  std::string key_file;
  std::string stanza = "main";
  bool json = false;
};

// The password file in use (for restore_command), as an absolute path; "" if none.
std::string password_file_path(const Common& c) {
  std::string f = c.password_file;
  if (f.empty())
    if (const char* e = std::getenv("STRONGROOM_PASSWORD_FILE"); e && *e) f = e;
  if (f.empty()) return "";
  char buf[PATH_MAX];
  if (!::realpath(f.c_str(), buf)) throw Error(Errc::kUsage, "cannot find the password file " + f);
  return buf;
}

std::string absolute(const std::string& f) {
  char buf[PATH_MAX];
  if (!::realpath(f.c_str(), buf)) throw Error(Errc::kUsage, "cannot find " + f);
  return buf;
}

// --key-file / STRONGROOM_KEY_FILE, as an absolute path; "" if none.
std::string key_file_path(const Common& c) {
  std::string f = c.key_file;
  if (f.empty())
    if (const char* e = std::getenv("STRONGROOM_KEY_FILE"); e && *e) f = e;
  return f.empty() ? "" : absolute(f);
}

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw Error(Errc::kInternal, "cannot find the strongroom executable");
  return std::string(buf, static_cast<size_t>(n));
}

std::string repo_url(const Common& c) {
  if (!c.repo.empty()) return c.repo;
  if (const char* r = std::getenv("STRONGROOM_REPOSITORY"); r && *r) return r;
  throw Error(Errc::kUsage, "no repository given: use --repo URL or set STRONGROOM_REPOSITORY");
}

std::unique_ptr<repo::Repository> open_repo(const Common& c) {
  std::string url = repo_url(c);
  if (std::string kf = key_file_path(c); !kf.empty())
    return repo::Repository::open(
        url, repo::Credential{read_secret_file(kf, "the key file " + kf), true});
  if (!c.password_file.empty()) ::setenv("STRONGROOM_PASSWORD_FILE", c.password_file.c_str(), 1);
  std::string pw = read_password("STRONGROOM", "Repository password: ", false);
  return repo::Repository::open(url, pw);
}

void add_repo_option(CLI::App* cmd, Common& c, bool with_json) {
  cmd->add_option("--repo,-r", c.repo,
                  "Repository URL: a path or file:///path (env STRONGROOM_REPOSITORY)");
  cmd->add_option("--password-file", c.password_file,
                  "File holding the repository password (env STRONGROOM_PASSWORD_FILE)");
  cmd->add_option("--key-file", c.key_file,
                  "Key file made by `key add --new-key-file` (env STRONGROOM_KEY_FILE): for "
                  "machines, opens without key stretching");
  if (with_json) cmd->add_flag("--json", c.json, "Print machine-readable JSON");
}

void print_json(const json& j) { std::cout << j.dump(2) << std::endl; }

// Writes each log line as `format` makes it, to stderr: the texts the CLI printed before
// operations logged through an OpContext (e.g. "warning: MSG").
class LineLogger final : public log::Logger {
 public:
  using Format =
      std::function<std::string(log::Level, std::string_view component, std::string_view message)>;
  LineLogger(log::Level min, Format format) : Logger(min), format_(std::move(format)) {}

 protected:
  void write(log::Level level, std::string_view component, std::string_view message) override {
    std::string line = format_(level, component, message);
    std::lock_guard lock(mu_);
    std::fprintf(stderr, "%s\n", line.c_str());
    std::fflush(stderr);
  }

 private:
  Format format_;
  std::mutex mu_;
};

// "warning: MSG" (after clearing a progress line on a terminal).
LineLogger warning_logger() {
  return LineLogger(log::Level::kWarn, [](log::Level, std::string_view, std::string_view m) {
    return std::string(isatty(2) ? "\r\033[K" : "") + "warning: " + std::string(m);
  });
}

int cmd_init(const Common& c, int level) {
  std::string url = repo_url(c);
  if (!c.password_file.empty()) ::setenv("STRONGROOM_PASSWORD_FILE", c.password_file.c_str(), 1);
  std::string pw = read_password("STRONGROOM", "New repository password: ", true);
  repo::InitOptions opts;
  opts.compression_level = level;
  std::string id = repo::Repository::init(url, pw, opts);
  if (c.json)
    print_json({{"id", id}, {"repository", url}});
  else
    std::cout << "created repository " << id << " at " << url
              << "\nKeep the password safe: without it the backups cannot be read.\n";
  return 0;
}

void print_backup_summary(const ops::BackupResult& r, double seconds) {
  const auto& m = r.manifest;
  double rate = seconds > 0 ? static_cast<double>(m.size) / seconds : 0;
  std::cout << "backup " << m.id << " saved (" << m.source << ")\n"
            << "  files " << m.file_count << ", size " << human_bytes(m.size) << ", stored "
            << human_bytes(m.stored_size) << ", added " << human_bytes(m.added_size) << "\n"
            << "  took " << human_duration(seconds) << " ("
            << human_bytes(static_cast<uint64_t>(rate)) << "/s)";
  if (r.reused_files) std::cout << ", " << r.reused_files << " unchanged files reused";
  std::cout << "\n";
  if (r.warnings) std::cout << "  " << r.warnings << " entries could not be read (see above)\n";
}

struct PgArgs {
  std::string data, conn, type = "full";
};

int cmd_backup(const Common& c, const std::vector<std::string>& paths, const std::string& command,
               const std::string& name, const std::vector<std::string>& tags,
               const std::string& host, const PgArgs& pg) {
  int sources = !paths.empty() + !command.empty() + !pg.data.empty();
  if (sources != 1)
    throw Error(Errc::kUsage,
                "give one source: --path DIR..., --command CMD --name NAME, or --pg-data DIR "
                "--pg-conn CONNINFO");
  if (!command.empty() && name.empty()) throw Error(Errc::kUsage, "--command needs --name NAME");
  auto repo = open_repo(c);
  ops::Counters counters;
  LineLogger logger = warning_logger();
  OpContext ctx;
  ctx.progress = &counters;
  ctx.logger = &logger;
  double start = monotonic_seconds();
  ops::BackupResult r;
  {
    ProgressLine progress("backup", counters, !c.json);
    if (!pg.data.empty()) {
      ops::PgBackupOptions o;
      o.stanza = c.stanza;
      o.pg_data = pg.data;
      o.pg_conn = pg.conn;
      o.type = pg.type;
      o.name = name;
      o.tags = tags;
      r = ops::backup_postgres(*repo, o, ctx);
    } else if (!paths.empty()) {
      ops::FilesBackupOptions o;
      o.paths = paths;
      o.tags = tags;
      o.host = host;
      o.scan_totals = stderr_is_terminal() && !c.json;
      r = ops::backup_files(*repo, o, ctx);
    } else {
      ops::CommandBackupOptions o;
      o.command = command;
      o.name = name;
      o.tags = tags;
      o.host = host;
      r = ops::backup_command(*repo, o, ctx);
    }
  }
  double seconds = monotonic_seconds() - start;
  if (c.json) {
    print_json(r.to_json());
  } else {
    print_backup_summary(r, seconds);
  }
  return r.warnings ? 8 : 0;
}

int cmd_backups(const Common& c) {
  auto repo = open_repo(c);
  auto all = repo->list_manifests();
  if (c.json) {
    json arr = json::array();
    for (const auto& m : all) arr.push_back(m.to_listing_json());
    print_json(arr);
    return 0;
  }
  std::printf("%-10s %-20s %-8s %10s %10s %10s  %s\n", "ID", "TIME", "TYPE", "SIZE", "STORED",
              "ADDED", "SOURCE");
  for (const auto& m : all)
    std::printf("%-10s %-20s %-8s %10s %10s %10s  %s\n", m.id.substr(0, 8).c_str(),
                format_rfc3339(m.time_ns).c_str(), m.type.c_str(), human_bytes(m.size).c_str(),
                human_bytes(m.stored_size).c_str(), human_bytes(m.added_size).c_str(),
                m.source.c_str());
  std::printf("%zu backups\n", all.size());
  return 0;
}

struct PitrArgs {
  std::string time, lsn, xid, name, target, action = "promote";
  bool start = false, archive = false;
  int port = 0;
  std::string pg_bin;
  std::vector<std::string> tablespace_map;
  std::string tablespace_dir;
  bool any() const {
    return !time.empty() || !lsn.empty() || !xid.empty() || !name.empty() || !target.empty() ||
           start || !tablespace_map.empty() || !tablespace_dir.empty();
  }
};

int cmd_restore_pg(const Common& c, repo::Repository& repo, const std::string& backup,
                   const std::string& to, bool force, bool delta, const PitrArgs& p) {
  ops::PgRestoreOptions o;
  o.stanza = c.stanza;
  o.target_dir = to;
  o.backup = backup;
  o.force = force;
  o.delta = delta;
  o.tablespace_map = p.tablespace_map;
  o.tablespace_dir = p.tablespace_dir;
  int kinds =
      !p.time.empty() + !p.lsn.empty() + !p.xid.empty() + !p.name.empty() + !p.target.empty();
  if (kinds > 1) throw Error(Errc::kUsage, "give at most one recovery target");
  if (!p.time.empty()) o.target_kind = "time", o.target_value = p.time;
  if (!p.lsn.empty()) o.target_kind = "lsn", o.target_value = p.lsn;
  if (!p.xid.empty()) o.target_kind = "xid", o.target_value = p.xid;
  if (!p.name.empty()) o.target_kind = "name", o.target_value = p.name;
  if (!p.target.empty()) {
    if (p.target != "immediate") throw Error(Errc::kUsage, "--target takes 'immediate'");
    o.target_kind = "immediate";
  }
  o.target_action = p.action;
  o.start = p.start;
  o.port = p.port;
  o.archive = p.archive;
  o.pg_bin = p.pg_bin;
  o.repo_url = repo_url(c);
  if (o.repo_url.find("://") == std::string::npos) {
    char buf[PATH_MAX];
    if (::realpath(o.repo_url.c_str(), buf)) o.repo_url = buf;
  }
  o.key_file = key_file_path(c);
  if (o.key_file.empty()) o.password_file = password_file_path(c);
  o.self_exe = self_exe();
  ops::Counters counters;
  o.counters = &counters;
  ops::PgRestoreResult r;
  {
    ProgressLine progress("restore", counters, !c.json);
    r = ops::restore_postgres(repo, o);
  }
  double total = r.restore_seconds + r.recovery_seconds;
  if (c.json) {
    json j = {{"id", r.backup_id},
              {"target", to},
              {"files", r.files.files},
              {"bytes", r.files.bytes},
              {"restore_seconds", r.restore_seconds}};
    if (delta) {
      j["bytes_unchanged"] = r.files.bytes_unchanged;
      j["removed"] = r.files.removed;
    }
    if (o.start) {
      j["state"] = r.state;
      j["recovery_seconds"] = r.recovery_seconds;
      j["rto_seconds"] = total;
    }
    print_json(j);
  } else {
    std::cout << "restored PostgreSQL backup " << r.backup_id << " to " << to << ": "
              << r.files.files << " files, " << human_bytes(r.files.bytes) << " in "
              << human_duration(r.restore_seconds) << "\n";
    if (delta)
      std::cout << "delta: " << human_bytes(r.files.bytes_unchanged) << " already in place, "
                << r.files.removed << " entries removed\n";
    if (o.start)
      std::cout << "server " << r.state << " after recovery; RTO " << human_duration(total)
                << " (files " << human_duration(r.restore_seconds) << ", recovery "
                << human_duration(r.recovery_seconds) << ")\n";
    else
      std::cout << "recovery is configured (recovery.signal, restore_command); start the server to "
                   "replay the WAL\n";
  }
  return 0;
}

int cmd_restore(const Common& c, const std::string& backup, const std::string& to, bool force,
                bool delta, const PitrArgs& pitr) {
  auto repo = open_repo(c);
  if (backup == "latest" && pitr.any()) return cmd_restore_pg(c, *repo, "", to, force, delta, pitr);
  std::string id = repo->resolve_backup(backup);
  repo::Manifest m = repo->load_manifest(id);
  if (m.type == "postgres") return cmd_restore_pg(c, *repo, id, to, force, delta, pitr);
  if (pitr.any())
    throw Error(Errc::kUsage, "recovery targets and --start apply to PostgreSQL backups only");
  ops::Counters counters;
  OpContext ctx;
  ctx.progress = &counters;
  ops::RestoreResult r;
  ops::RestoreOptions o{to, force};
  if (m.type == "command") {
    if (delta) throw Error(Errc::kUsage, "--delta applies to file and PostgreSQL backups");
    r = ops::restore_command(*repo, m, o, ctx);
    if (to == "-") return 0;
  } else {
    ProgressLine progress("restore", counters, !c.json);
    o.delta = delta;
    r = ops::restore_files(*repo, m, o, ctx);
  }
  double seconds = r.seconds;
  if (c.json) {
    print_json(r.to_json());
  } else {
    std::cout << "restored backup " << m.id << " to " << to << ": " << r.files << " files, "
              << human_bytes(r.bytes) << " in " << human_duration(seconds) << " ("
              << human_bytes(static_cast<uint64_t>(
                     seconds > 0 ? static_cast<double>(r.bytes) / seconds : 0))
              << "/s)\n";
    if (delta)
      std::cout << "delta: " << human_bytes(r.bytes_unchanged) << " already in place, " << r.removed
                << " entries removed\n";
  }
  return 0;
}

int cmd_replicate(const Common& c, const std::string& to, bool dry_run) {
  auto source = open_repo(c);
  auto target = storage::open_storage(to);
  ops::Counters counters;
  OpContext ctx;
  ctx.progress = &counters;
  ops::ReplicateOptions o;
  o.dry_run = dry_run;
  ops::ReplicateResult r;
  {
    ProgressLine progress("replicate", counters, !c.json && !dry_run);
    r = ops::replicate(*source, *target, o, ctx);
  }
  double seconds = r.seconds;
  double age = r.newest_missing_backup_age_seconds();
  if (c.json) {
    print_json(r.to_json());
  } else {
    std::cout << (dry_run ? "lag: " : "replicated: ") << r.missing_objects << " objects, "
              << human_bytes(r.missing_bytes) << " missing from " << target->describe();
    if (r.newest_missing_backup_ns)
      std::cout << " (newest unreplicated backup ended " << human_duration(age) << " ago)";
    std::cout << "\n";
    if (!dry_run)
      std::cout << "copied " << r.copied_objects << " objects, " << human_bytes(r.copied_bytes)
                << " in " << human_duration(seconds) << (r.created ? " (new replica)" : "") << "\n";
  }
  return 0;
}

int cmd_verify(const Common& c, bool read_data) {
  auto repo = open_repo(c);
  ops::Counters counters;
  OpContext ctx;
  ctx.progress = &counters;
  ops::VerifyReport r;
  {
    ProgressLine progress("verify", counters, !c.json && read_data);
    r = ops::verify(*repo, {read_data}, ctx);
  }
  if (c.json) {
    print_json(r.to_json());
  } else {
    for (const auto& p : r.problems) std::cout << "problem: " << p << "\n";
    if (!r.damaged_backups.empty()) {
      std::cout << "damaged backups:";
      for (const auto& id : r.damaged_backups) std::cout << " " << id;
      std::cout << "\n";
    }
    std::cout << (r.ok() ? "repository is sound: " : "repository has problems: ") << r.backups
              << " backups, " << r.packs << " packs, " << r.index_objects << " index objects";
    if (read_data)
      std::cout << ", " << r.chunks_checked << " chunks (" << human_bytes(r.bytes_read) << ") read";
    if (r.unreferenced_packs)
      std::cout << ", " << r.unreferenced_packs
                << " unreferenced packs (leftovers; prune removes them)";
    std::cout << "\n";
  }
  return r.ok() ? 0 : 3;
}

// Starts a detached pusher for the spool (double fork, new session, output to the spool's log).
void start_pusher(const Common& c, const std::string& spool) {
  pid_t pid = ::fork();
  if (pid < 0) return;  // the next wal-push tries again
  if (pid > 0) {
    int status;
    ::waitpid(pid, &status, 0);
    return;
  }
  ::setsid();
  if (::fork() != 0) ::_exit(0);
  int log =
      ::open((spool + "/pusher.log").c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  int null = ::open("/dev/null", O_RDONLY);
  if (null >= 0) ::dup2(null, 0);
  if (log >= 0) {
    ::dup2(log, 1);
    ::dup2(log, 2);
  }
  try {
    LineLogger logger(log::Level::kInfo, [](log::Level, std::string_view, std::string_view m) {
      return format_rfc3339(now_ns()) + " strongroom pusher: " + std::string(m);
    });
    OpContext ctx;
    ctx.logger = &logger;
    ops::run_pusher([&] { return open_repo(c); }, {c.stanza, spool, 10.0}, ctx);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s strongroom pusher: %s\n", format_rfc3339(now_ns()).c_str(), e.what());
  }
  std::fflush(stderr);
  ::_exit(0);
}

int cmd_wal_push(const Common& c, const std::string& path, const std::string& spool) {
  if (!spool.empty()) {
    // Asynchronous: pushed ahead by the background pusher, else now, else spooled locally.
    ops::note_wal_source(spool, path);
    if (!ops::pusher_running(spool)) {
      start_pusher(c, spool);
      // Give it a moment to take its lock, so that this call waits for it instead of pushing
      // the same segment at the same time.
      for (int i = 0; i < 100 && !ops::pusher_running(spool); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    LineLogger logger(log::Level::kWarn, [](log::Level, std::string_view, std::string_view m) {
      return "strongroom: warning: " + std::string(m);
    });
    OpContext ctx;
    ctx.logger = &logger;
    auto r = ops::async_push([&] { return open_repo(c); }, {c.stanza, spool, path}, ctx);
    if (c.json) print_json(r.to_json());
    return 0;
  }
  auto repo = open_repo(c);
  auto r = ops::wal_push(*repo, {c.stanza, path, 0}, {});
  if (c.json) print_json(r.to_json());
  return 0;
}

int cmd_wal_get(const Common& c, const std::string& name, const std::string& dest, int ahead) {
  std::string dir = dirname_of(dest) + "/strongroom-prefetch";
  bool found = ahead > 0 && ops::take_prefetched(dir, name, dest);
  std::unique_ptr<repo::Repository> repo;
  if (!found) {
    repo = open_repo(c);
    if (!ops::wal_get(*repo, c.stanza, name, dest)) {
      std::fprintf(stderr, "strongroom: %s is not in the repository (stanza %s)\n", name.c_str(),
                   c.stanza.c_str());
      return 1;
    }
  }
  if (ahead > 0 && pg::is_segment_file_name(name)) {
    // Fetch the next segments in a detached process while PostgreSQL replays this one.
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setsid();
      if (::fork() != 0) ::_exit(0);
      int null = ::open("/dev/null", O_RDWR);
      if (null >= 0) {
        ::dup2(null, 0);
        ::dup2(null, 1);
        ::dup2(null, 2);
      }
      try {
        auto r = repo ? std::move(repo) : open_repo(c);
        ops::prefetch(*r, c.stanza, dir, name, ahead);
      } catch (const std::exception&) {
        // Prefetching is an optimisation: the next wal-get fetches directly.
      }
      ::_exit(0);
    }
    if (pid > 0) {
      int status;
      ::waitpid(pid, &status, 0);
    }
  }
  return 0;
}

int cmd_mark(const Common& c, const std::string& name, const std::vector<std::string>& conns,
             const std::vector<std::string>& stanzas) {
  if (conns.empty())
    throw Error(Errc::kUsage, "mark needs --pg-conn (repeat it for several clusters)");
  if (!stanzas.empty() && stanzas.size() != conns.size())
    throw Error(Errc::kUsage, "give one --stanza per --pg-conn (or none: stanza 'main')");
  std::vector<ops::MarkTarget> targets;
  for (size_t i = 0; i < conns.size(); ++i)
    targets.push_back({stanzas.empty() ? c.stanza : stanzas[i], conns[i]});
  auto repo = open_repo(c);
  auto marks = ops::mark(*repo, name, targets);
  if (c.json) {
    json arr = json::array();
    for (const auto& m : marks)
      arr.push_back({{"name", m.name},
                     {"stanza", m.stanza},
                     {"lsn", m.lsn},
                     {"time", format_rfc3339(m.time_ns)}});
    print_json(arr);
  } else {
    for (const auto& m : marks)
      std::cout << "restore point '" << m.name << "' on stanza " << m.stanza << " at LSN " << m.lsn
                << " (" << format_rfc3339(m.time_ns) << ")\n";
  }
  return 0;
}

std::atomic<bool> g_stop{false};
extern "C" void on_stop_signal(int) { g_stop = true; }

int cmd_stream(const Common& c, const std::string& conn, const std::string& slot, bool sync) {
  if (conn.empty()) throw Error(Errc::kUsage, "stream needs --pg-conn");
  auto repo = open_repo(c);
  struct sigaction sa = {};
  sa.sa_handler = on_stop_signal;
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
  ops::StreamOptions o;
  o.stanza = c.stanza;
  o.conninfo = conn;
  if (conn.find("application_name") == std::string::npos)
    o.conninfo += " application_name=strongroom";
  o.slot = slot;
  o.synchronous = sync;
  // The signal handler only sets g_stop; this thread turns it into a cancellation.
  CancelToken cancel;
  std::jthread forward([&cancel](std::stop_token st) {
    while (!st.stop_requested() && !g_stop)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (g_stop) cancel.cancel();
  });
  LineLogger logger(log::Level::kInfo, [](log::Level, std::string_view, std::string_view m) {
    return format_rfc3339(now_ns()) + " strongroom stream: " + std::string(m);
  });
  OpContext ctx;
  ctx.cancel = &cancel;
  ctx.logger = &logger;
  ops::stream_wal(*repo, o, ctx);
  return 0;
}

int cmd_key_add(const Common& c, const std::string& new_key_file) {
  auto repo = open_repo(c);
  if (!new_key_file.empty()) {
    std::string secret = repo::generate_key_file_secret();
    Fd fd(::open(new_key_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (!fd)
      throw_errno("cannot create the key file " + new_key_file +
                  (errno == EEXIST ? " (it must not exist yet)" : ""));
    write_all(fd.get(), as_bytes(secret + "\n"), new_key_file);
    if (::fsync(fd.get()) != 0) throw_errno("cannot fsync " + new_key_file);
    std::string id;
    try {
      id = repo::add_key_slot(repo->storage(), repo->keys(), repo::Credential{secret, true});
    } catch (...) {
      ::unlink(new_key_file.c_str());
      throw;
    }
    if (c.json)
      print_json({{"id", id}, {"key_file", new_key_file}});
    else
      std::cout << "added key slot " << id << ", opened by the key file " << new_key_file
                << " (keep it secret: it opens the repository)\n";
    return 0;
  }
  std::string pw = read_password("STRONGROOM_NEW", "New password for the key slot: ", true);
  std::string id = repo::add_key_slot(repo->storage(), repo->keys(), pw);
  if (c.json)
    print_json({{"id", id}});
  else
    std::cout << "added key slot " << id << "\n";
  return 0;
}

int cmd_key_list(const Common& c) {
  auto repo = open_repo(c);
  auto slots = repo::list_key_slots(repo->storage());
  if (c.json) {
    json arr = json::array();
    for (const auto& s : slots)
      arr.push_back({{"id", s.id},
                     {"created", format_rfc3339(s.created_ns)},
                     {"host", s.host},
                     {"user", s.user},
                     {"current", s.id == repo->opened_slot()}});
    print_json(arr);
    return 0;
  }
  std::printf("  %-32s %-20s %s\n", "ID", "CREATED", "USER@HOST");
  for (const auto& s : slots)
    std::printf("%s %-32s %-20s %s@%s\n", s.id == repo->opened_slot() ? "*" : " ", s.id.c_str(),
                format_rfc3339(s.created_ns).c_str(), s.user.c_str(), s.host.c_str());
  return 0;
}

int cmd_key_remove(const Common& c, const std::string& id) {
  auto repo = open_repo(c);
  auto lock = repo::RepoLock::acquire(*repo, "key remove", true);
  auto slots = repo::list_key_slots(repo->storage());
  bool found = std::any_of(slots.begin(), slots.end(), [&](const auto& s) { return s.id == id; });
  if (!found) throw Error(Errc::kNotFound, "no key slot " + id);
  if (slots.size() <= 1) throw Error(Errc::kUsage, "refusing to remove the last key slot");
  if (id == repo->opened_slot())
    throw Error(
        Errc::kUsage,
        "refusing to remove the key slot of the password in use; open with another password first");
  repo->storage().remove("keys/" + id);
  if (!c.json)
    std::cout << "removed key slot " << id << "\n";
  else
    print_json({{"removed", id}});
  return 0;
}

int cmd_unlock(const Common& c) {
  auto repo = open_repo(c);
  size_t n = repo::RepoLock::remove_stale(*repo);
  std::cout << "removed " << n << " stale locks\n";
  return 0;
}

int run(int argc, char** argv) {
  CLI::App app{"strongroom: encrypted, deduplicating backups with verified restores"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "strongroom 0.1.0 (repository format 1)");
  app.footer(
      "Password: STRONGROOM_PASSWORD_FILE, STRONGROOM_PASSWORD, or a prompt (never on the command "
      "line).\n"
      "Exit codes: 0 ok, 1 error, 2 usage, 3 damage found, 4 wrong password, 5 locked, 6 not "
      "found,\n"
      "7 command source failed, 8 backup saved but some files could not be read.");
  Common common;
  int result = 0;

  int level = 3;
  auto* init = app.add_subcommand("init", "Create a new repository");
  add_repo_option(init, common, true);
  init->add_option("--compression-level", level, "zstd level for this repository (0 = none)")
      ->check(CLI::Range(-7, 19));
  init->callback([&] { result = cmd_init(common, level); });

  std::vector<std::string> paths, tags;
  std::string command, name, host;
  auto* backup = app.add_subcommand("backup", "Back up directories/files or a command's output");
  add_repo_option(backup, common, true);
  backup->add_option("--path,-p", paths, "A directory or file to back up (repeatable)");
  backup->add_option("--command", command, "A shell command whose standard output is backed up");
  backup->add_option("--name", name, "Name of the command backup's output");
  backup->add_option("--tag", tags, "A tag for the backup (repeatable)");
  backup->add_option("--host", host, "Host name to record (default: this host)");
  PgArgs pg;
  backup->add_option("--pg-data", pg.data, "PostgreSQL data directory (a physical backup)");
  backup->add_option("--pg-conn", pg.conn,
                     "libpq connection string of that server, e.g. \"host=/run/postgresql "
                     "port=5432 user=postgres\"");
  backup->add_option("--type", pg.type, "PostgreSQL backup type: full, diff or incr")
      ->check(CLI::IsMember({"full", "diff", "incr"}))
      ->capture_default_str();
  backup->add_option("--stanza", common.stanza, "Name of the PostgreSQL cluster in the repository")
      ->capture_default_str();
  backup->callback([&] { result = cmd_backup(common, paths, command, name, tags, host, pg); });

  auto* backups = app.add_subcommand("backups", "List the backups");
  add_repo_option(backups, common, true);
  backups->callback([&] { result = cmd_backups(common); });

  std::string backup_id = "latest", to;
  bool force = false, delta = false;
  auto* restore = app.add_subcommand("restore", "Restore a backup");
  add_repo_option(restore, common, true);
  restore->add_option("--backup,-b", backup_id, "Backup id (or unique prefix) or 'latest'")
      ->capture_default_str();
  restore->add_option("--to,-t", to, "Target directory (files); a file or - (command output)")
      ->required();
  restore->add_flag("--force", force, "Restore into a non-empty target, replacing what is there");
  restore->add_flag("--delta", delta,
                    "Update a target that holds an older copy: remove what the backup lacks, "
                    "write only the pieces and pages that differ (content is compared)");
  PitrArgs pitr;
  restore->add_option("--stanza", common.stanza, "PostgreSQL cluster in the repository")
      ->capture_default_str();
  restore->add_option("--target-time", pitr.time,
                      "PostgreSQL: recover to this time (RFC 3339, UTC)");
  restore->add_option("--target-lsn", pitr.lsn, "PostgreSQL: recover to this LSN");
  restore->add_option("--target-xid", pitr.xid, "PostgreSQL: recover to this transaction id");
  restore->add_option("--target-name", pitr.name, "PostgreSQL: recover to this restore point");
  restore->add_option("--target", pitr.target, "PostgreSQL: 'immediate' (end of the backup only)");
  restore
      ->add_option("--target-action", pitr.action,
                   "PostgreSQL: promote, pause or shutdown at the target")
      ->check(CLI::IsMember({"promote", "pause", "shutdown"}))
      ->capture_default_str();
  restore->add_flag("--start", pitr.start,
                    "PostgreSQL: start the restored server and wait for the target");
  restore->add_option("--port", pitr.port, "PostgreSQL: port for --start");
  restore->add_flag("--archive", pitr.archive,
                    "PostgreSQL: keep archive_mode on in the restored server");
  restore->add_option("--tablespace-map", pitr.tablespace_map,
                      "PostgreSQL: restore tablespace OID into DIR (OID=DIR; repeatable)");
  restore->add_option("--tablespace-dir", pitr.tablespace_dir,
                      "PostgreSQL: restore every tablespace into DIR/OID");
  restore->add_option("--pg-bin", pitr.pg_bin,
                      "PostgreSQL: directory of pg_ctl (default /usr/lib/postgresql/<major>/bin)");
  restore->callback([&] { result = cmd_restore(common, backup_id, to, force, delta, pitr); });

  std::string mark_name;
  std::vector<std::string> mark_conns, mark_stanzas;
  auto* mark = app.add_subcommand(
      "mark", "Create a named restore point on one or more clusters at one moment");
  add_repo_option(mark, common, true);
  mark->add_option("name", mark_name, "Restore point name")->required();
  mark->add_option("--pg-conn", mark_conns, "Connection string of a cluster (repeatable)");
  mark->add_option("--stanza", mark_stanzas,
                   "Stanza of each --pg-conn, in the same order (default main)");
  mark->callback([&] { result = cmd_mark(common, mark_name, mark_conns, mark_stanzas); });

  std::string stream_conn, stream_slot = "strongroom";
  bool stream_sync = false;
  auto* stream = app.add_subcommand(
      "stream",
      "Stream WAL into the repository over a replication slot (RPO <= 1 s; 0 with --synchronous)");
  add_repo_option(stream, common, false);
  stream
      ->add_option("--pg-conn", stream_conn,
                   "Connection string of the server (a replication connection is made)")
      ->required();
  stream->add_option("--stanza", common.stanza, "PostgreSQL cluster in the repository")
      ->capture_default_str();
  stream->add_option("--slot", stream_slot, "Physical replication slot (created if missing)")
      ->capture_default_str();
  stream->add_flag("--synchronous", stream_sync,
                   "Acknowledge WAL only once durable in the repository; name application_name "
                   "'strongroom' in synchronous_standby_names for RPO = 0");
  stream->callback([&] { result = cmd_stream(common, stream_conn, stream_slot, stream_sync); });

  std::string wal_path, wal_name, wal_dest;
  auto* wal_push = app.add_subcommand(
      "wal-push", "Archive a WAL file (use as archive_command: strongroom wal-push … %p)");
  add_repo_option(wal_push, common, true);
  wal_push->add_option("--stanza", common.stanza, "PostgreSQL cluster in the repository")
      ->capture_default_str();
  wal_push->add_option("path", wal_path, "The WAL file (%p)")->required();
  std::string wal_spool;
  wal_push->add_option(
      "--async-spool", wal_spool,
      "Asynchronous: spool the file durably in this local directory and return; a "
      "background pusher sends the spool to the repository (also while it is unreachable)");
  wal_push->callback([&] { result = cmd_wal_push(common, wal_path, wal_spool); });
  auto* wal_get = app.add_subcommand(
      "wal-get", "Fetch a WAL file (use as restore_command: strongroom wal-get … %f %p)");
  add_repo_option(wal_get, common, false);
  wal_get->add_option("--stanza", common.stanza, "PostgreSQL cluster in the repository")
      ->capture_default_str();
  wal_get->add_option("name", wal_name, "The WAL file name (%f)")->required();
  wal_get->add_option("dest", wal_dest, "Where to write it (%p)")->required();
  int prefetch_ahead = 0;
  wal_get->add_option("--prefetch", prefetch_ahead,
                      "Fetch this many following segments in the background (replay does not wait "
                      "for one round trip per segment)");
  wal_get->callback([&] { result = cmd_wal_get(common, wal_name, wal_dest, prefetch_ahead); });

  bool read_data = false;
  auto* verify = app.add_subcommand("verify", "Check the repository's structure (and data)");
  add_repo_option(verify, common, true);
  verify->add_flag("--read-data", read_data, "Read and authenticate every chunk");
  verify->callback([&] { result = cmd_verify(common, read_data); });

  std::string replicate_to;
  bool replicate_dry_run = false;
  auto* replicate = app.add_subcommand(
      "replicate",
      "Copy what a replica lacks (another disk, region or backend), authenticating every object");
  add_repo_option(replicate, common, true);
  replicate->add_option("--from", common.repo, "Source repository URL (same as --repo)");
  replicate->add_option("--to", replicate_to, "Replica URL (empty, or a replica of the source)")
      ->required();
  replicate->add_flag("--dry-run", replicate_dry_run,
                      "Only report the lag: objects and bytes the replica lacks");
  replicate->callback([&] { result = cmd_replicate(common, replicate_to, replicate_dry_run); });

  auto* key = app.add_subcommand("key", "Manage the password key slots");
  key->require_subcommand(1);
  auto* key_add =
      key->add_subcommand("add",
                          "Add a key slot (new password from STRONGROOM_NEW_PASSWORD_FILE, "
                          "STRONGROOM_NEW_PASSWORD or a prompt)");
  add_repo_option(key_add, common, true);
  std::string new_key_file;
  key_add->add_option(
      "--new-key-file", new_key_file,
      "Create this key file (random, mode 0600) and a slot it opens, instead of a password slot");
  key_add->callback([&] { result = cmd_key_add(common, new_key_file); });
  auto* key_list = key->add_subcommand("list", "List the key slots");
  add_repo_option(key_list, common, true);
  key_list->callback([&] { result = cmd_key_list(common); });
  std::string key_id;
  auto* key_remove = key->add_subcommand("remove", "Remove a key slot");
  add_repo_option(key_remove, common, true);
  key_remove->add_option("id", key_id, "The key slot id")->required();
  key_remove->callback([&] { result = cmd_key_remove(common, key_id); });

  auto* unlock = app.add_subcommand("unlock", "Remove stale locks (of processes that are gone)");
  add_repo_option(unlock, common, false);
  unlock->callback([&] { result = cmd_unlock(common); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return result;
}

}  // namespace
}  // namespace sr::app

int main(int argc, char** argv) {
  try {
    return sr::app::run(argc, argv);
  } catch (const sr::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%sstrongroom: error: %s\n", isatty(2) ? "\r\033[K" : "", e.what());
    return sr::exit_code_for(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strongroom: error: %s\n", e.what());
    return 1;
  }
}

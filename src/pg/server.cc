#include "pg/server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <thread>

#include "base/error.h"
#include "base/fs.h"
#include "base/time_util.h"
#include "pg/libpq_session.h"
#include "source/child_env.h"

namespace sr::pg {

namespace {

// A libpq connection string value: quoted when it needs to be.
std::string conn_value(const std::string& v) {
  if (!v.empty() && v.find_first_of(" '\\\t\n") == std::string::npos) return v;
  std::string out = "'";
  for (char c : v) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  return out + "'";
}

void pause(const OpContext& ctx, double seconds) {
  if (ctx.cancel)
    ctx.cancel->wait_for(seconds);
  else
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

}  // namespace

std::string to_string(RecoveryEnd end) {
  switch (end) {
    case RecoveryEnd::kPromoted:
      return "promoted";
    case RecoveryEnd::kPaused:
      return "paused";
    case RecoveryEnd::kShutDown:
      return "shut down";
    case RecoveryEnd::kStopped:
      return "stopped";
  }
  return "stopped";
}

int free_loopback_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw_errno("cannot create a socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    int err = errno;
    ::close(fd);
    throw_errno("cannot find a free port on 127.0.0.1", err);
  }
  ::close(fd);
  return ntohs(addr.sin_port);
}

// Runs pg_ctl with its output appended to the log file (or discarded for `status`); with a
// context, polls so that a cancellation stops waiting (pg_ctl is terminated).
int Server::run_pg_ctl(const std::vector<std::string>& args, const OpContext* ctx) const {
  std::vector<std::string> argv;
  if (uid_ >= 0)  // root runs the server as its user: pg_ctl refuses root
    argv = {"/usr/bin/setpriv", "--reuid=" + std::to_string(uid_),
            "--regid=" + std::to_string(gid_), "--init-groups", "--"};
  argv.push_back(settings_.bin_dir + "/pg_ctl");
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (const auto& a : argv) cargs.push_back(const_cast<char*>(a.c_str()));
  cargs.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  bool quiet = args.back() == "status";
  const char* out = quiet ? "/dev/null" : log_file_.c_str();
  posix_spawn_file_actions_addopen(&actions, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  pid_t pid;
  // The server runs a restored, possibly hostile configuration: it gets an allow-listed
  // environment, without storage credentials or repository passwords (source/child_env.h).
  std::vector<std::string> env = source::child_environment(source::ChildKind::kServer);
  for (char** e = environ; *e; ++e)
    for (const auto& prefix : settings_.pass_env)
      if (std::string_view(*e).starts_with(prefix)) env.emplace_back(*e);
  source::ChildEnvp envp(std::move(env));
  int rc = ::posix_spawn(&pid, cargs[0], &actions, nullptr, cargs.data(), envp.get());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw_errno("cannot run " + argv[0], rc);
  int status = 0;
  for (;;) {
    pid_t r = ::waitpid(pid, &status, ctx ? WNOHANG : 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) throw_errno("waitpid");
    if (ctx && ctx->cancelled()) {
      ::kill(pid, SIGTERM);
      while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
      }
      ctx->check_cancelled("starting PostgreSQL");
    }
    if (r == 0) pause(*ctx, 0.05);
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::unique_ptr<Server> Server::start(const ServerSettings& settings, const OpContext& ctx) {
  if (::geteuid() == 0 && settings.os_user.empty())
    throw Error(Errc::kUsage, "PostgreSQL does not run as root; start " + settings.what +
                                  " as the database's OS user");
  if (settings.data_dir.empty() || settings.bin_dir.empty())
    throw Error(Errc::kUsage, "a server needs a data directory and the PostgreSQL binaries");
  std::unique_ptr<Server> s(new Server(settings));
  if (::geteuid() == 0) {
    struct passwd* pw = ::getpwnam(settings.os_user.c_str());
    if (pw == nullptr || pw->pw_uid == 0)
      throw Error(Errc::kUsage, "cannot run " + settings.what + " as '" + settings.os_user +
                                    "': no such user, or root");
    s->uid_ = static_cast<int>(pw->pw_uid);
    s->gid_ = static_cast<int>(pw->pw_gid);
  }
  s->launch(ctx);  // on error, the destructor stops what was started
  return s;
}

void Server::launch(const OpContext& ctx) {
  // A server already running there is not ours: never start over it, and never stop it.
  if (running())
    throw Error(Errc::kUsage,
                "a PostgreSQL server already runs on " + settings_.data_dir + "; stop it first");
  port_ = settings_.port ? settings_.port : free_loopback_port();
  log_file_ = settings_.log_file.empty() ? settings_.data_dir + "/strongroom-start.log"
                                         : settings_.log_file;
  char tmpl[] = "/tmp/strongroom-pg-XXXXXX";
  if (!::mkdtemp(tmpl)) throw_errno("cannot create a socket directory");
  socket_dir_ = tmpl;
  if (uid_ >= 0) {
    // Root never opens a path inside the data directory (restored, possibly hostile content,
    // owned by the server's user): the log goes into the socket directory, created here while
    // it is still root's (O_EXCL | O_NOFOLLOW), and only then is the directory given away.
    if (settings_.log_file.empty()) log_file_ = socket_dir_ + "/server.log";
    Fd log(::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (log.get() < 0 ||
        ::fchown(log.get(), static_cast<uid_t>(uid_), static_cast<gid_t>(gid_)) != 0)
      throw_errno("cannot prepare the log file " + log_file_);
    if (::chown(socket_dir_.c_str(), static_cast<uid_t>(uid_), static_cast<gid_t>(gid_)) != 0)
      throw_errno("cannot give " + socket_dir_ + " to " + settings_.os_user);
  }
  std::string opts = "-p " + std::to_string(port_) + " -k " + shell_quote(socket_dir_) +
                     " -c listen_addresses=127.0.0.1";
  for (const auto& o : settings_.options) opts += " -c " + shell_quote(o);
  auto timeout = static_cast<long>(std::ceil(std::max(1.0, settings_.start_timeout_seconds)));
  ctx.log().info("pg", "starting PostgreSQL on " + settings_.data_dir + " (port " +
                           std::to_string(port_) + ", log " + log_file_ + ")");
  owned_ = true;  // from here on, whatever runs on data_dir was started by us
  int rc = run_pg_ctl({"-D", settings_.data_dir, "-o", opts, "-l", log_file_, "-w", "-t",
                       std::to_string(timeout), "start"},
                      &ctx);
  if (rc != 0 && !(settings_.may_stop_during_start && !running()))
    throw Error(Errc::kIo, settings_.what + " did not start (see " + log_file_ + ")");
}

Server::Server(const ServerSettings& s) : settings_(s) {}

Server::~Server() {
  if (!owned_) return;
  try {
    stop();
  } catch (const std::exception&) {
    // Nothing more can be done here; pg_ctl's output is in the log file.
  }
}

std::string Server::conninfo() const { return conninfo(settings_.database); }

std::string Server::conninfo(const std::string& database) const {
  return "host=" + conn_value(socket_dir_) + " port=" + std::to_string(port_) +
         " dbname=" + conn_value(database) + " user=" + conn_value(settings_.db_user) +
         " connect_timeout=10";
}

bool Server::running() const {
  return run_pg_ctl({"-D", settings_.data_dir, "status"}, nullptr) == 0;
}

std::string Server::query(const std::string& sql) {
  if (!session_) session_ = Session::connect(conninfo());
  try {
    return session_->value(sql);
  } catch (const Error&) {
    session_.reset();  // reconnect next time
    throw;
  }
}

RecoveryEnd Server::wait_for_recovery(double timeout_seconds, RecoveryAction action,
                                      const OpContext& ctx) {
  const double deadline = monotonic_seconds() + timeout_seconds;
  for (;;) {
    ctx.check_cancelled("waiting for recovery");
    if (action == RecoveryAction::kShutdown && !running()) return RecoveryEnd::kShutDown;
    try {
      bool recovering = query("SELECT pg_is_in_recovery()::text") == "true";
      if (!recovering && action == RecoveryAction::kPromote) return RecoveryEnd::kPromoted;
      if (recovering && action == RecoveryAction::kPause &&
          query("SELECT pg_get_wal_replay_pause_state()") == "paused")
        return RecoveryEnd::kPaused;
    } catch (const Error& e) {
      if (e.code() == Errc::kCancelled) throw;
      if (action != RecoveryAction::kShutdown && !running()) return RecoveryEnd::kStopped;
    }
    if (monotonic_seconds() > deadline)
      throw Error(Errc::kIo, settings_.what + " has not finished recovery after " +
                                 std::to_string(static_cast<long>(timeout_seconds)) + " s (see " +
                                 log_file_ + ")");
    pause(ctx, 0.1);
  }
}

void Server::stop(bool immediate) {
  if (stopped_) return;
  session_.reset();
  if (!socket_dir_.empty() && running()) {
    if (immediate || run_pg_ctl({"-D", settings_.data_dir, "-m", "fast", "-w", "-t", "60", "stop"},
                                nullptr) != 0)
      run_pg_ctl({"-D", settings_.data_dir, "-m", "immediate", "-w", "-t", "60", "stop"}, nullptr);
  }
  stopped_ = true;
  if (!socket_dir_.empty()) {
    if (uid_ >= 0 && log_file_ == socket_dir_ + "/server.log") ::unlink(log_file_.c_str());
    ::rmdir(socket_dir_.c_str());
  }
}

}  // namespace sr::pg

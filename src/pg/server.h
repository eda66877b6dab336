// pg/server.h: a local PostgreSQL server started on a data directory (restore --start, restore
// tests, drills).
//
// Server::start runs `pg_ctl start` (binaries from settings.bin_dir) as the calling process's OS
// user — PostgreSQL refuses root, so root is refused first with a clear error — on the given
// port or on a free loopback port (found by binding 127.0.0.1:0), with a private socket
// directory (/tmp/strongroom-pg-XXXXXX; started by root for os_user, the server's log goes there
// too) and listen_addresses = 127.0.0.1 on the command line, so
// that a restored configuration can neither collide with the original server's socket nor
// listen beyond loopback. The server's log (and pg_ctl's output) goes to settings.log_file.
// Waits are bounded (start_timeout_seconds; the timeout given to wait_for_recovery) and end
// early when the OpContext is cancelled (Error{kCancelled}; a server being started is stopped).
// Connections use the socket directory, the port and settings.db_user (never the environment).
//
// The destructor stops (fast) a server this object started, unless release() handed it over to
// the caller (restore --start leaves the restored server running). Not thread-safe.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/context.h"

namespace sr::pg {

class Session;

struct ServerSettings {
  std::string bin_dir;   // holds pg_ctl
  std::string data_dir;  // owned by the calling user
  int port = 0;          // 0: a free loopback port
  std::string db_user = "postgres";
  std::string database = "postgres";
  std::string log_file;              // empty: <data_dir>/strongroom-start.log
  std::vector<std::string> options;  // extra server settings, "name=value" each (-c)
  // The server gets an allow-listed environment (source/child_env.h: never storage credentials
  // or repository passwords). Variables whose names start with one of these prefixes pass too:
  // a restored server whose restore_command reads an S3 or Azure repository needs that
  // backend's variables (until credentials come from a configuration file).
  std::vector<std::string> pass_env;
  double start_timeout_seconds = 3600;
  // A server that may stop on its own while starting (recovery_target_action = shutdown): then
  // a pg_ctl start that fails is not an error as long as the server is no longer running.
  bool may_stop_during_start = false;
  std::string what = "the server";  // in messages: "the restored server did not start"
  // When the calling process is root: the OS user the server runs as (pg_ctl is run through
  // setpriv with that user's ids and groups; the socket directory and log file are given to it).
  // Empty: root is refused. Ignored for other callers (they run the server as themselves).
  std::string os_user;
};

// How a wait for the end of recovery ended.
enum class RecoveryEnd { kPromoted, kPaused, kShutDown, kStopped /* exited unexpectedly */ };
enum class RecoveryAction { kPromote, kPause, kShutdown };  // recovery_target_action
std::string to_string(RecoveryEnd end);  // "promoted", "paused", "shut down", "stopped"

class Server {
 public:
  // Throws kUsage as root, kIo when pg_ctl cannot run or the server does not start (naming the
  // log file), kCancelled.
  static std::unique_ptr<Server> start(const ServerSettings& settings, const OpContext& ctx);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  int port() const { return port_; }
  const std::string& socket_dir() const { return socket_dir_; }
  const std::string& log_file() const { return log_file_; }
  // libpq connection string of the server (socket directory, port, user, database).
  std::string conninfo() const;
  std::string conninfo(const std::string& database) const;
  // Whether a postmaster runs on the data directory (pg_ctl status).
  bool running() const;
  // The single value of a one-row, one-column query (kIo etc. from the session).
  std::string query(const std::string& sql);

  // Polls (every 100 ms) until recovery ended as `action` says: promoted (kPromote: out of
  // recovery), paused at the target (kPause), the server shut down (kShutdown); or kStopped when
  // the server exited otherwise. Throws kIo when `timeout_seconds` pass first, kCancelled.
  RecoveryEnd wait_for_recovery(double timeout_seconds, RecoveryAction action,
                                const OpContext& ctx);

  // Fast shutdown (then immediate if that fails); waits up to 60 s. Idempotent. `immediate`:
  // no shutdown checkpoint (a scratch cluster about to be removed).
  void stop(bool immediate = false);
  // Leaves the server running when this object goes away (its socket directory stays).
  void release() { owned_ = false; }

 private:
  explicit Server(const ServerSettings& s);
  int run_pg_ctl(const std::vector<std::string>& args, const OpContext* ctx) const;
  void launch(const OpContext& ctx);

  ServerSettings settings_;
  int uid_ = -1, gid_ = -1;  // the server's user when started by root (os_user)
  int port_ = 0;
  std::string socket_dir_, log_file_;
  bool owned_ = false, stopped_ = false;  // owned: this object started the server
  std::unique_ptr<Session> session_;
};

// A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close).
int free_loopback_port();

}  // namespace sr::pg

// app/common.h: what every command of the CLI shares: the repository options (--repo,
// --password-file, --key-file, --stanza, --json), opening the repository with them, the run of
// one command (its OpContext: cancellation on SIGINT/SIGTERM, a progress counter, the CLI's
// logger), and printing JSON.
//
// This is the only layer that reads the environment: STRONGROOM_REPOSITORY,
// STRONGROOM_PASSWORD_FILE / STRONGROOM_PASSWORD, STRONGROOM_KEY_FILE here, the storage settings in
// app/storage_env.cc. Everything below app/ receives settings as structs.
#pragma once

#include <CLI/CLI.hpp>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "base/context.h"
#include "config/config.h"
#include "repo/repository.h"

namespace sr::app {

// strongroom's version (CMakeLists.txt's project version): --version and the daemon's status.
inline constexpr const char* kVersion = SR_VERSION;

class StopSignals;

struct RepoArgs {
  std::string repo;
  std::string password_file;
  std::string key_file;
  std::string stanza = "main";
  std::string ca_file;  // --ca-file: CA bundle for https object-store endpoints
  bool json = false;

  // The configuration file (--config FILE or STRONGROOM_CONFIG), when there is one, and what the
  // command took from it: the repository (--repository NAME, else the source's, else "primary")
  // and the source (--source NAME). Flags given on the command line win over the file.
  std::string config_file, repository, source;  // repository: resolved once a file is loaded
  std::string password_env;  // the configuration's password_env: the variable to read
  std::shared_ptr<const config::Config> config;
  const config::RepositoryConfig* repo_config = nullptr;
  const config::SourceConfig* source_config = nullptr;
};

// --repo, --password-file, --key-file, --ca-file, --config, --repository (and --json when
// with_json). After parsing, the configuration file is loaded and applied (see RepoArgs).
void add_repo_options(CLI::App* cmd, RepoArgs& args, bool with_json);
// --source NAME: a source of the configuration file (its repository, stanza, paths, …).
void add_source_option(CLI::App* cmd, RepoArgs& args);
// The configured source the command was given, or kUsage naming `command`'s flags to use.
const config::SourceConfig& need_source(const RepoArgs& args, const std::string& what);
void add_stanza_option(CLI::App* cmd, RepoArgs& args, const std::string& help);

// --repo or STRONGROOM_REPOSITORY; kUsage when neither.
std::string repo_url(const RepoArgs& args);
// The same, made absolute for a local path (for restore_command, which runs elsewhere).
std::string absolute_repo_url(const RepoArgs& args);
// --password-file or STRONGROOM_PASSWORD_FILE, as an absolute path; "" if none.
std::string password_file_path(const RepoArgs& args);
// --key-file or STRONGROOM_KEY_FILE, as an absolute path; "" if none.
std::string key_file_path(const RepoArgs& args);
std::string absolute_path(const std::string& path);
// The running strongroom executable (for restore_command).
std::string self_exe();

// The repository password (--password-file, the environment or a prompt).
std::string repo_password(const RepoArgs& args, const std::string& prompt, bool confirm);
// Opens the repository with the key file or the password.
std::unique_ptr<repo::Repository> open_repo(const RepoArgs& args);

void print_json(const nlohmann::json& j);

// --now TIME: the one clock of time-based rules (retention, freshness, schedules), settable for
// tests and what-if runs; env STRONGROOM_NOW.
void add_now_option(CLI::App* cmd, std::string& now);
// The clock in nanoseconds: --now, else STRONGROOM_NOW, else the system clock (kUsage when a
// given time does not parse).
int64_t clock_now_ns(const std::string& now_flag);

// One command's run: a cancellation token that SIGINT/SIGTERM trigger while `cancel_on_signal`
// (a second signal kills at once), progress counters, and the CLI logger (warnings as
// "warning: MSG" on stderr; with `service_log`, timestamped lines "TIME strongroom COMPONENT: MSG"
// for long-running commands).
class CommandRun {
 public:
  // `prefix` starts every plain line: "strongroom: " where the reader cannot tell who is talking
  // (archive_command output lands in the PostgreSQL server's log).
  explicit CommandRun(bool cancel_on_signal = false, bool service_log = false,
                      std::string prefix = "");
  ~CommandRun();
  CommandRun(const CommandRun&) = delete;
  CommandRun& operator=(const CommandRun&) = delete;

  OpContext ctx() { return OpContext{&cancel_, &counters_, logger_.get()}; }
  Counters& counters() { return counters_; }
  CancelToken& cancel() { return cancel_; }
  log::Logger& logger() { return *logger_; }

 private:
  CancelToken cancel_;
  Counters counters_;
  std::unique_ptr<log::Logger> logger_;
  std::unique_ptr<StopSignals> stop_signals_;
};

// The logger of the CLI (see CommandRun).
std::unique_ptr<log::Logger> make_cli_logger(bool service_log, std::string prefix = "");
// The environment variable `name`, or "" when unset.
std::string env(const char* name);

}  // namespace sr::app

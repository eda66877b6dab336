#include "app/common.h"

#include <limits.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "app/signals.h"
#include "app/storage_env.h"
#include "app/terminal.h"
#include "base/error.h"
#include "base/time_util.h"

namespace sr::app {
std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

namespace {

// The CLI's lines: "warning: MSG" for people, "TIME strongroom COMPONENT: MSG" for services.
class CliLogger final : public log::Logger {
 public:
  CliLogger(log::Level min, bool service, std::string prefix)
      : Logger(min), service_(service), prefix_(std::move(prefix)) {}

 protected:
  void write(log::Level level, std::string_view component, std::string_view message) override {
    std::string line =
        service_ ? format_rfc3339(now_ns()) + " strongroom " + std::string(component) + ": "
                 : prefix_;
    if (level == log::Level::kWarn) line += "warning: ";
    if (level == log::Level::kError) line += "error: ";
    line += message;
    std::fprintf(stderr, "%s%s\n", !service_ && isatty(2) ? "\r\033[K" : "", line.c_str());
    std::fflush(stderr);
  }

 private:
  bool service_;
  std::string prefix_;
};

}  // namespace

void apply_config(CLI::App* cmd, RepoArgs& a);

void add_repo_options(CLI::App* cmd, RepoArgs& a, bool with_json) {
  cmd->add_option("--repo,-r", a.repo,
                  "Repository URL: a path, file:///path, s3://BUCKET/PREFIX or "
                  "azure://CONTAINER/PREFIX (env STRONGROOM_REPOSITORY)");
  cmd->add_option("--password-file", a.password_file,
                  "File holding the repository password (env STRONGROOM_PASSWORD_FILE)");
  cmd->add_option("--key-file", a.key_file,
                  "Key file made by `key add --new-key-file` (env STRONGROOM_KEY_FILE): for "
                  "machines, opens without key stretching; or a write-only key file made by "
                  "`key export-writer` (backs up, cannot restore)");
  cmd->add_option("--ca-file", a.ca_file,
                  "PEM file of the CAs to trust for an https:// S3 or Azure endpoint, instead of "
                  "the system's (env AWS_CA_BUNDLE, SSL_CERT_FILE)");
  if (with_json) cmd->add_flag("--json", a.json, "Print machine-readable JSON");
  cmd->add_option("--config", a.config_file,
                  "Configuration file (env STRONGROOM_CONFIG; see docs/configuration.md)");
  cmd->add_option("--repository", a.repository,
                  "Repository of the configuration file to use (default: the source's, else "
                  "primary)");
  cmd->parse_complete_callback([cmd, &a] { apply_config(cmd, a); });
}

void add_source_option(CLI::App* cmd, RepoArgs& a) {
  cmd->add_option("--source", a.source,
                  "A source of the configuration file: its repository, stanza and settings");
}

const config::SourceConfig& need_source(const RepoArgs& a, const std::string& what) {
  if (a.source_config == nullptr)
    throw Error(Errc::kUsage, what +
                                  " needs --source NAME (and --config FILE or "
                                  "STRONGROOM_CONFIG)");
  return *a.source_config;
}

// Loads the configuration file and fills what the command line left empty.
void apply_config(CLI::App* cmd, RepoArgs& a) {
  if (a.config_file.empty()) a.config_file = env("STRONGROOM_CONFIG");
  if (a.config_file.empty()) {
    if (!a.source.empty() || !a.repository.empty())
      throw Error(Errc::kUsage, std::string(a.source.empty() ? "--repository" : "--source") +
                                    " needs a configuration file: --config FILE or "
                                    "STRONGROOM_CONFIG");
    return;
  }
  a.config = std::make_shared<const config::Config>(config::load_config(a.config_file));
  std::string repo_name = a.repository;
  if (!a.source.empty()) {
    a.source_config = &a.config->source(a.source);
    if (repo_name.empty()) repo_name = a.source_config->repository;
    const CLI::Option* stanza = cmd->get_option_no_throw("--stanza");
    if (a.source_config->type == config::SourceType::kPostgres &&
        (stanza == nullptr || stanza->count() == 0))
      a.stanza = a.source_config->stanza;
  }
  if (repo_name.empty()) repo_name = "primary";
  a.repository = repo_name;
  if (!a.repo.empty()) return;  // --repo given: the configuration's repository is not used
  a.repo_config = &a.config->repository(repo_name);
  const auto& r = *a.repo_config;
  a.repo = r.url;
  if (a.password_file.empty() && a.key_file.empty()) {
    a.password_file = r.password.file;
    a.password_env = r.password.env;
    a.key_file = r.key_file;
  }
  if (a.ca_file.empty()) a.ca_file = r.ca_file;
}

void add_stanza_option(CLI::App* cmd, RepoArgs& a, const std::string& help) {
  cmd->add_option("--stanza", a.stanza, help)->capture_default_str();
}

std::string repo_url(const RepoArgs& a) {
  if (!a.repo.empty()) return a.repo;
  if (std::string r = env("STRONGROOM_REPOSITORY"); !r.empty()) return r;
  throw Error(Errc::kUsage, "no repository given: use --repo URL or set STRONGROOM_REPOSITORY");
}

std::string absolute_repo_url(const RepoArgs& a) {
  std::string url = repo_url(a);
  if (url.find("://") != std::string::npos) return url;
  char buf[PATH_MAX];
  return ::realpath(url.c_str(), buf) ? std::string(buf) : url;
}

std::string absolute_path(const std::string& f) {
  char buf[PATH_MAX];
  if (!::realpath(f.c_str(), buf)) throw Error(Errc::kUsage, "cannot find " + f);
  return buf;
}

std::string password_file_path(const RepoArgs& a) {
  std::string f = a.password_file.empty() ? env("STRONGROOM_PASSWORD_FILE") : a.password_file;
  if (f.empty()) return "";
  char buf[PATH_MAX];
  if (!::realpath(f.c_str(), buf)) throw Error(Errc::kUsage, "cannot find the password file " + f);
  return buf;
}

std::string key_file_path(const RepoArgs& a) {
  // A password the configuration names wins over STRONGROOM_KEY_FILE (the file over the
  // environment, as for every other setting).
  bool configured_password = a.repo_config && !a.repo_config->password.empty();
  std::string f =
      a.key_file.empty() && !configured_password ? env("STRONGROOM_KEY_FILE") : a.key_file;
  return f.empty() ? "" : absolute_path(f);
}

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw Error(Errc::kInternal, "cannot find the strongroom executable");
  return std::string(buf, static_cast<size_t>(n));
}

std::string repo_password(const RepoArgs& a, const std::string& prompt, bool confirm) {
  if (a.password_file.empty() && !a.password_env.empty()) {
    std::string pw = env(a.password_env.c_str());
    if (pw.empty())
      throw Error(Errc::kUsage, "the configuration's password_env names " + a.password_env +
                                    ", which is not set");
    return pw;
  }
  return read_password("STRONGROOM", prompt, confirm, a.password_file);
}

std::unique_ptr<repo::Repository> open_repo(const RepoArgs& a) {
  std::string url = repo_url(a);
  repo::Credential credential;
  if (std::string kf = key_file_path(a); !kf.empty())
    credential = repo::Credential{read_secret_file(kf, "the key file " + kf), true};
  else
    credential = repo::Credential{repo_password(a, "Repository password: ", false)};
  return repo::Repository::open(open_storage_from_env(url, a.ca_file, a.repo_config), credential,
                                repo_options_from_env());
}

void add_now_option(CLI::App* cmd, std::string& now) {
  cmd->add_option("--now", now,
                  "Take this RFC 3339 time as now for every time-based rule (env STRONGROOM_NOW)");
}

int64_t clock_now_ns(const std::string& flag) {
  std::string t = flag.empty() ? env("STRONGROOM_NOW") : flag;
  if (t.empty()) return now_ns();
  try {
    return parse_rfc3339(t);
  } catch (const Error& e) {
    throw Error(Errc::kUsage,
                std::string(flag.empty() ? "STRONGROOM_NOW" : "--now") + ": " + e.what());
  }
}

void print_json(const nlohmann::json& j) { std::cout << j.dump(2) << std::endl; }

std::unique_ptr<log::Logger> make_cli_logger(bool service_log, std::string prefix) {
  std::string level = env("STRONGROOM_LOG_LEVEL");
  log::Level min = level.empty() ? (service_log ? log::Level::kInfo : log::Level::kWarn)
                                 : log::parse_level(level);
  if (env("STRONGROOM_LOG_FORMAT") == "json")
    return log::make_stream_logger(log::Format::kJsonLines, min, stderr, false);
  return std::make_unique<CliLogger>(min, service_log, std::move(prefix));
}

CommandRun::CommandRun(bool cancel_on_signal, bool service_log, std::string prefix)
    : logger_(make_cli_logger(service_log, std::move(prefix))) {
  if (cancel_on_signal) stop_signals_ = std::make_unique<StopSignals>(cancel_);
}

CommandRun::~CommandRun() = default;

}  // namespace sr::app

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
  std::string f = a.key_file.empty() ? env("STRONGROOM_KEY_FILE") : a.key_file;
  return f.empty() ? "" : absolute_path(f);
}

std::string self_exe() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) throw Error(Errc::kInternal, "cannot find the strongroom executable");
  return std::string(buf, static_cast<size_t>(n));
}

std::string repo_password(const RepoArgs& a, const std::string& prompt, bool confirm) {
  return read_password("STRONGROOM", prompt, confirm, a.password_file);
}

std::unique_ptr<repo::Repository> open_repo(const RepoArgs& a) {
  std::string url = repo_url(a);
  repo::Credential credential;
  if (std::string kf = key_file_path(a); !kf.empty())
    credential = repo::Credential{read_secret_file(kf, "the key file " + kf), true};
  else
    credential = repo::Credential{repo_password(a, "Repository password: ", false)};
  return repo::Repository::open(open_storage_from_env(url, a.ca_file), credential,
                                repo_options_from_env());
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

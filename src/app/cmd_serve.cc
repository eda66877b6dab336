// app/cmd_serve.cc: `strongroom serve` (the daemon), `strongroom run-now` and `strongroom status`:
// thin adapters over daemon/ (docs/daemon.md).
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "app/storage_env.h"
#include "app/terminal.h"
#include "base/time_util.h"
#include "daemon/daemon.h"
#include "daemon/http_api.h"
#include "daemon/notify.h"
#include "storage/http_client.h"

namespace sr::app {
namespace {

struct ServeArgs {
  std::string config_file, now, listen;
  bool json = false;
  std::string source, job, type;
};

std::shared_ptr<const config::Config> load(std::string& file) {
  if (file.empty()) file = env("STRONGROOM_CONFIG");
  if (file.empty())
    throw Error(Errc::kUsage, "a configuration file is needed: --config FILE or STRONGROOM_CONFIG");
  file = absolute_path(file);
  return std::make_shared<const config::Config>(config::load_config(file));
}

// The API token: server.token_file's first line. A file others can read is refused.
std::string read_token(const config::Config& c, bool for_server) {
  if (c.server.token_file.empty())
    throw Error(Errc::kUsage, std::string(for_server ? "serve" : "the API") +
                                  " needs server.token_file in " + c.file +
                                  " (a file holding the bearer token)");
  struct stat st {};
  if (for_server && ::stat(c.server.token_file.c_str(), &st) == 0 && (st.st_mode & 0077))
    throw Error(Errc::kUsage, "server.token_file " + c.server.token_file +
                                  " can be read by others: chmod 600 it");
  std::string t = read_secret(config::SecretRef{c.server.token_file, ""}, "server.token_file");
  if (t.size() < 16)
    throw Error(Errc::kUsage, "server.token_file " + c.server.token_file +
                                  " holds a token shorter than 16 characters");
  return t;
}

RepoArgs repo_args_for(std::shared_ptr<const config::Config> c, const std::string& file,
                       const std::string& name) {
  RepoArgs a;
  a.config_file = file;
  a.config = c;
  a.repository = name;
  a.repo_config = &c->repository(name);
  a.repo = a.repo_config->url;
  a.password_file = a.repo_config->password.file;
  a.password_env = a.repo_config->password.env;
  a.key_file = a.repo_config->key_file;
  a.ca_file = a.repo_config->ca_file;
  return a;
}

daemon::RepoOpener opener(const std::string& file) {
  return [file](std::shared_ptr<const config::Config> c, const std::string& name) {
    return open_repo(repo_args_for(std::move(c), file, name));
  };
}

int run_serve(ServeArgs& a) {
  auto cfg = load(a.config_file);
  std::string token = read_token(*cfg, true);
  // Signals are taken by one thread (sigwait): blocked here, before any thread starts, so that
  // every thread inherits the mask; children get it reset (daemon/child.h).
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGUSR1}) sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  // Few malloc arenas: the daemon's threads are many and mostly idle (HTTP pool, job waiters), and
  // one arena each would keep freed memory resident (docs/benchmarks.md, issue 13).
  ::mallopt(M_ARENA_MAX, 2);
  auto logger = make_cli_logger(true);
  int64_t offset = 0;
  if (!a.now.empty() || !env("STRONGROOM_NOW").empty()) offset = clock_now_ns(a.now) - now_ns();
  daemon::DaemonOptions o;
  o.config_file = a.config_file;
  // The running binary itself, also after an upgrade replaced the file: jobs are the daemon's
  // own version until it restarts.
  o.self_exe = "/proc/self/exe";
  o.now = [offset] { return now_ns() + offset; };
  o.open_repository = opener(a.config_file);
  o.log = logger.get();
  o.version = kVersion;
  o.deliver = [](const config::NotifierConfig& n, const nlohmann::json& m) {
    daemon::NotifySettings s;
    daemon::deliver(n, m, s, [](const config::SecretRef& r, const std::string& what) {
      return read_secret(r, what);
    });
  };
  daemon::Daemon d(cfg, o);
  daemon::HttpOptions h;
  daemon::parse_listen(a.listen.empty() ? cfg->server.listen : a.listen, h);
  h.token = token;
  h.tls_cert = cfg->server.tls_cert;
  h.tls_key = cfg->server.tls_key;
  daemon::HttpApi api(d, h, logger.get());
  int port = api.start();
  std::string scheme = h.tls_cert.empty() ? "http" : "https";
  std::string host = h.host.find(':') != std::string::npos ? "[" + h.host + "]" : h.host;
  logger->info("serve", "listening on " + scheme + "://" + host + ":" + std::to_string(port) +
                            "/ (config " + a.config_file + ", state " + cfg->server.state_dir +
                            ")");
  std::cout << "dashboard: " << scheme << "://" << host << ":" << port << "/" << std::endl;

  std::atomic<bool> exiting{false};
  std::thread signals([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (exiting) return;
      if (sig == SIGHUP) {
        if (d.reload()) {
          try {
            api.set_token(read_token(*d.config(), true));
          } catch (const Error& e) {
            logger->warn("serve", std::string("the token was not reloaded: ") + e.what());
          }
        }
      } else if (sig == SIGTERM || sig == SIGINT) {
        logger->info("serve", std::string(sig == SIGTERM ? "SIGTERM" : "SIGINT") +
                                  ": stopping (a second one cancels running jobs at once)");
        d.stop();
      }
    }
  });
  d.run();
  api.stop();
  exiting = true;
  pthread_kill(signals.native_handle(), SIGUSR1);
  signals.join();
  return 0;
}

// A request to the daemon of the configuration (server.listen, its token). nullopt when no
// daemon answers (connection refused).
std::optional<storage::HttpResponse> ask_daemon(const config::Config& c, const std::string& method,
                                                const std::string& path, const std::string& body) {
  daemon::HttpOptions h;
  daemon::parse_listen(c.server.listen, h);
  std::string host = h.host == "0.0.0.0" ? "127.0.0.1" : h.host == "::" ? "::1" : h.host;
  if (host.find(':') != std::string::npos) host = "[" + host + "]";
  std::string url = std::string(c.server.tls_cert.empty() ? "http" : "https") + "://" + host + ":" +
                    std::to_string(h.port) + path;
  storage::HttpSettings s;
  s.retry.budget_seconds = 0;
  s.connect_timeout_seconds = 3;
  s.ca_file = c.server.tls_cert;
  storage::HttpClient client(s);
  storage::HttpRequest req;
  req.method = method;
  req.url = url;
  req.headers = {{"Authorization", "Bearer " + read_token(c, false)},
                 {"Content-Type", "application/json"}};
  req.body.memory = as_bytes(body);
  try {
    return client.send(
        req, [](storage::HttpRequest&) {}, "daemon " + path);
  } catch (const Error& e) {
    if (e.code() == Errc::kIo || e.code() == Errc::kTransient) return std::nullopt;
    throw;
  }
}

std::string error_of(const storage::HttpResponse& r) {
  auto j = nlohmann::json::parse(std::string(r.body.begin(), r.body.end()), nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) return j["error"];
  return "HTTP " + std::to_string(r.status);
}

int run_now(ServeArgs& a) {
  auto cfg = load(a.config_file);
  nlohmann::json body = {{"job", a.job}};
  if (!a.source.empty()) body["source"] = a.source;
  if (!a.type.empty()) body["type"] = a.type;
  auto r = ask_daemon(*cfg, "POST", "/api/jobs", body.dump());
  if (!r)
    throw Error(Errc::kUsage, "no daemon answers on " + cfg->server.listen +
                                  " (start it with `strongroom serve`, or run the command itself)");
  if (r->status != 202)
    throw Error(r->status == 400 ? Errc::kUsage : Errc::kIo, "the daemon refused: " + error_of(*r));
  auto j = nlohmann::json::parse(std::string(r->body.begin(), r->body.end()));
  if (a.json) {
    print_json(j);
  } else {
    std::cout << "job " << j.value("id", int64_t{0}) << " queued: " << a.job
              << (a.source.empty() ? "" : " " + a.source) << "\n";
  }
  return 0;
}

std::string cell(const nlohmann::json& v) {
  if (v.is_null()) return "-";
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

int run_status(ServeArgs& a) {
  auto cfg = load(a.config_file);
  nlohmann::json status;
  bool from_daemon = false;
  std::optional<storage::HttpResponse> answer;
  if (!cfg->server.token_file.empty()) {
    try {
      answer = ask_daemon(*cfg, "GET", "/api/status", "");
    } catch (const Error& e) {
      if (e.code() != Errc::kUsage) throw;
      std::cerr << "warning: " << e.what() << ": reading the repositories instead\n";
    }
    if (auto& r = answer) {
      if (r->status != 200) throw Error(Errc::kIo, "the daemon answered: " + error_of(*r));
      status = nlohmann::json::parse(std::string(r->body.begin(), r->body.end()));
      from_daemon = true;
    }
  }
  if (!from_daemon) {
    CommandRun run(true);
    int64_t now = clock_now_ns(a.now);
    auto snap = daemon::build_snapshot(cfg, opener(a.config_file), now, run.ctx());
    status = daemon::offline_status_json(*cfg, *snap, now);
  }
  if (a.json) {
    print_json(status);
    return 0;
  }
  std::cout << (from_daemon ? "from the daemon on " + cfg->server.listen
                            : std::string("from the repositories (no daemon answers)"))
            << "\n\n";
  std::vector<std::vector<std::string>> rows{
      {"SOURCE", "STATE", "LAST BACKUP", "AGE", "NEXT RUN", "RPO", "RESTORE TEST"}};
  for (const auto& s : status["sources"]) {
    std::string last = s["last_backup"].is_null()
                           ? "-"
                           : cell(s["last_backup"]["type"]) + " " + cell(s["last_backup"]["end"]);
    std::string age = s["age_s"].is_number() ? human_duration(s["age_s"].get<double>()) : "-";
    std::string next = s["next_run"].is_null() ? "-" : cell(s["next_run"]["at"]);
    std::string rpo = s["rpo_s"].is_number() ? human_duration(s["rpo_s"].get<double>()) : "-";
    std::string test =
        s["restore_test"].is_null()
            ? "-"
            : std::string(s["restore_test"]["passed"].get<bool>() ? "passed" : "FAILED") + " " +
                  cell(s["restore_test"]["end"]);
    rows.push_back({cell(s["name"]), cell(s["state"]), last, age, next, rpo, test});
  }
  std::vector<size_t> width(rows[0].size(), 0);
  for (const auto& r : rows)
    for (size_t i = 0; i < r.size(); ++i) width[i] = std::max(width[i], r[i].size());
  for (const auto& r : rows) {
    for (size_t i = 0; i < r.size(); ++i)
      std::cout << r[i] << (i + 1 < r.size() ? std::string(width[i] - r[i].size() + 2, ' ') : "");
    std::cout << "\n";
  }
  for (const auto& s : status["sources"])
    for (const auto& p : s["problems"])
      std::cout << "  " << cell(s["name"]) << ": " << cell(p) << "\n";
  return 0;
}

}  // namespace

void add_serve_commands(CLI::App& app, int& result) {
  auto a = std::make_shared<ServeArgs>();
  auto* serve = app.add_subcommand(
      "serve",
      "Run the daemon: scheduled jobs, WAL streaming, alerts, HTTP API, metrics and dashboard");
  serve->add_option("--config", a->config_file, "Configuration file (env STRONGROOM_CONFIG)");
  serve->add_option("--listen", a->listen, "host:port to listen on (default: server.listen)");
  add_now_option(serve, a->now);
  serve->callback([a, &result] { result = run_serve(*a); });

  auto b = std::make_shared<ServeArgs>();
  auto* now = app.add_subcommand("run-now", "Ask the running daemon to start a job now");
  now->add_option("--config", b->config_file, "Configuration file (env STRONGROOM_CONFIG)");
  now->add_option("--job", b->job, "backup, verify, restore-test, expire, prune or replicate")
      ->required();
  now->add_option("--source", b->source, "The source (backup, restore-test, verify)");
  now->add_option("--type", b->type, "PostgreSQL backups: full, diff or incr");
  now->add_flag("--json", b->json, "Print machine-readable JSON");
  now->callback([b, &result] { result = run_now(*b); });

  auto c = std::make_shared<ServeArgs>();
  auto* status = app.add_subcommand(
      "status",
      "Per source: last backup, age, next run, RPO, restore tests (from the daemon "
      "when one runs, else from the repositories)");
  status->add_option("--config", c->config_file, "Configuration file (env STRONGROOM_CONFIG)");
  status->add_flag("--json", c->json, "Print machine-readable JSON");
  add_now_option(status, c->now);
  status->callback([c, &result] { result = run_status(*c); });
}

}  // namespace sr::app

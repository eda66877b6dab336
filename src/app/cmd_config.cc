// app/cmd_config.cc: `strongroom config check`: validates a configuration file and shows what it
// would do (repositories, sources, schedules with their next runs, retention, verification).
#include <unistd.h>

#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "base/time_util.h"
#include "config/config.h"

namespace sr::app {
namespace {

struct ConfigArgs {
  std::string file, now;
  bool json = false;
};

std::string describe(const config::SecretRef& r) {
  if (!r.file.empty()) return "file " + r.file;
  if (!r.env.empty()) return "environment variable " + r.env;
  return "";
}

// A configured secret that this host cannot read now (a warning: the file may be meant for
// another host, and check never reads a secret's value into its output).
std::string secret_problem(const config::SecretRef& r) {
  if (!r.file.empty() && ::access(r.file.c_str(), R_OK) != 0)
    return "file " + r.file + " is not readable here";
  if (!r.env.empty() && env(r.env.c_str()).empty())
    return "environment variable " + r.env + " is not set here";
  return "";
}

nlohmann::json retention_json(const config::RetentionRule& r) {
  nlohmann::json j = nlohmann::json::object();
  if (r.keep_within) j["keep_within"] = config::format_duration(*r.keep_within);
  if (r.keep_last) j["keep_last"] = r.keep_last;
  if (r.keep_hourly) j["keep_hourly"] = r.keep_hourly;
  if (r.keep_daily) j["keep_daily"] = r.keep_daily;
  if (r.keep_weekly) j["keep_weekly"] = r.keep_weekly;
  if (r.keep_monthly) j["keep_monthly"] = r.keep_monthly;
  if (r.keep_yearly) j["keep_yearly"] = r.keep_yearly;
  if (!r.keep_tags.empty()) j["keep_tags"] = r.keep_tags;
  if (r.pitr_window) j["pitr_window"] = config::format_duration(*r.pitr_window);
  return j;
}

std::string retention_text(const config::RetentionRule& r) {
  if (!r.any()) return "keep everything (no rule)";
  std::string out;
  auto add = [&](const std::string& s) { out += (out.empty() ? "" : ", ") + s; };
  if (r.keep_within) add("keep within " + config::format_duration(*r.keep_within));
  if (r.keep_last) add("keep last " + std::to_string(r.keep_last));
  if (r.keep_hourly) add(std::to_string(r.keep_hourly) + " hourly");
  if (r.keep_daily) add(std::to_string(r.keep_daily) + " daily");
  if (r.keep_weekly) add(std::to_string(r.keep_weekly) + " weekly");
  if (r.keep_monthly) add(std::to_string(r.keep_monthly) + " monthly");
  if (r.keep_yearly) add(std::to_string(r.keep_yearly) + " yearly");
  for (const auto& t : r.keep_tags) add("tag " + t);
  if (r.pitr_window) add("PITR window " + config::format_duration(*r.pitr_window));
  return out;
}

nlohmann::json check_json(const config::Config& c, int64_t now_s,
                          std::vector<std::string>& warnings) {
  nlohmann::json repos = nlohmann::json::array();
  for (const auto& [name, r] : c.repositories) {
    nlohmann::json j = {{"name", name}, {"url", r.url}, {"line", r.line}};
    std::string cred = !r.key_file.empty() ? "key file " + r.key_file : describe(r.password);
    j["credential"] =
        cred.empty() ? "STRONGROOM_PASSWORD_FILE, STRONGROOM_PASSWORD or a prompt" : cred;
    if (!r.replicate_from.empty()) j["replicate_from"] = r.replicate_from;
    if (r.cost_per_gib_month > 0) j["cost_per_gib_month"] = r.cost_per_gib_month;
    std::vector<std::pair<std::string, const config::SecretRef*>> secrets = {
        {"password", &r.password}};
    if (r.s3) {
      secrets.push_back({"s3.access_key_id", &r.s3->access_key_id});
      secrets.push_back({"s3.secret_access_key", &r.s3->secret_access_key});
      secrets.push_back({"s3.session_token", &r.s3->session_token});
    }
    if (r.azure) {
      secrets.push_back({"azure.key", &r.azure->key});
      secrets.push_back({"azure.sas_token", &r.azure->sas_token});
      secrets.push_back({"azure.connection_string", &r.azure->connection_string});
    }
    if (!r.key_file.empty() && ::access(r.key_file.c_str(), R_OK) != 0)
      warnings.push_back("repository " + name + ": key file " + r.key_file +
                         " is not readable here");
    for (const auto& [what, ref] : secrets)
      if (std::string p = secret_problem(*ref); !p.empty())
        warnings.push_back("repository " + name + ": " + what + ": " + p);
    repos.push_back(j);
  }
  nlohmann::json sources = nlohmann::json::array();
  for (const auto& s : c.sources) {
    nlohmann::json j = {{"name", s.name},
                        {"type", config::to_string(s.type)},
                        {"kind", s.kind},
                        {"repository", s.repository},
                        {"line", s.line}};
    if (s.type == config::SourceType::kPostgres) {
      j["stanza"] = s.stanza;
      j["pg_data"] = s.pg_data;
    } else if (s.type == config::SourceType::kFiles) {
      j["paths"] = s.paths;
    } else {
      j["command"] = s.command;
      j["output_name"] = s.output_name;
    }
    nlohmann::json sched = nlohmann::json::array();
    for (const auto& sc : s.schedules) {
      nlohmann::json x = {{"cron", sc.cron.text()}};
      if (!sc.type.empty()) x["type"] = sc.type;
      int64_t next = sc.cron.next_after(now_s);
      x["next_run"] =
          next < 0 ? nlohmann::json(nullptr) : nlohmann::json(format_rfc3339(next * 1'000'000'000));
      sched.push_back(x);
    }
    j["schedules"] = sched;
    j["verify"] = {{"max_age", config::format_duration(s.verify.max_age)}};
    if (auto lag = s.verify.max_wal_lag ? s.verify.max_wal_lag : s.rpo;
        lag && s.type == config::SourceType::kPostgres)
      j["verify"]["max_wal_lag"] = config::format_duration(*lag);
    if (s.rpo) j["rpo"] = config::format_duration(*s.rpo);
    if (s.rto) j["rto"] = config::format_duration(*s.rto);
    nlohmann::json v = nlohmann::json::array();
    for (const auto& q : s.validate)
      v.push_back({{"name", q.name}, {"query", q.query}, {"expect", q.expect}});
    j["validate"] = v;
    j["retention"] = retention_json(c.retention_for(s));
    if (s.stream) j["stream"] = true;
    if (s.restore_test) {
      int64_t next = s.restore_test->cron.next_after(now_s);
      j["restore_test"] = {
          {"cron", s.restore_test->cron.text()},
          {"target", s.restore_test->target},
          {"next_run", next < 0 ? nlohmann::json(nullptr)
                                : nlohmann::json(format_rfc3339(next * 1'000'000'000))}};
    }
    if (s.schedules.empty())
      warnings.push_back("source " + s.name + ": no backup schedule (backed up only when asked)");
    sources.push_back(j);
  }
  // The daemon's part (strongroom serve).
  nlohmann::json jobs = nlohmann::json::object();
  for (auto [name, job] : {std::pair{"verify", &c.jobs.verify},
                           {"expire", &c.jobs.expire},
                           {"prune", &c.jobs.prune},
                           {"replicate", &c.jobs.replicate}})
    if (*job) {
      int64_t next = (*job)->cron.next_after(now_s);
      jobs[name] = {{"cron", (*job)->cron.text()},
                    {"repository", (*job)->repository},
                    {"next_run", next < 0 ? nlohmann::json(nullptr)
                                          : nlohmann::json(format_rfc3339(next * 1'000'000'000))}};
      if (!(*job)->to.empty()) jobs[name]["to"] = (*job)->to;
    }
  nlohmann::json server = {{"listen", c.server.listen},
                           {"token_file", c.server.token_file},
                           {"state_dir", c.server.state_dir},
                           {"tls", !c.server.tls_cert.empty()},
                           {"max_concurrent_jobs", c.server.max_concurrent_jobs}};
  if (c.server.token_file.empty()) {
    warnings.push_back("server.token_file is not set: `strongroom serve` needs it");
  } else if (std::string p = secret_problem(config::SecretRef{c.server.token_file, ""});
             !p.empty()) {
    warnings.push_back("server.token_file: " + p);
  }
  nlohmann::json notify = nlohmann::json::array();
  for (const auto& [name, n] : c.notify) {
    notify.push_back({{"name", name},
                      {"kind", !n.command.empty() ? "command"
                               : n.email          ? "email"
                                                  : "webhook"}});
    if (!n.webhook_url_file.empty())
      if (std::string p = secret_problem(config::SecretRef{n.webhook_url_file, ""}); !p.empty())
        warnings.push_back("notify." + name + ".webhook.url_file: " + p);
    if (n.email)
      for (auto [what, ref] :
           {std::pair{"username", &n.email->username}, {"password", &n.email->password}})
        if (std::string p = secret_problem(*ref); !p.empty() && !ref->empty())
          warnings.push_back("notify." + name + ".email." + what + ": " + p);
  }
  return {{"file", c.file},
          {"valid", true},
          {"now", format_rfc3339(now_s * 1'000'000'000)},
          {"repositories", repos},
          {"sources", sources},
          {"prune",
           {{"grace", config::format_duration(c.prune_grace)}, {"max_unused", c.prune_max_unused}}},
          {"server", server},
          {"jobs", jobs},
          {"notify", notify},
          {"alert_routes", c.alerts.routes.size()},
          {"warnings", warnings}};
}

void print_check(const nlohmann::json& j, const config::Config& c) {
  std::cout << "configuration " << c.file << " is valid\n\nrepositories:\n";
  for (const auto& r : j["repositories"]) {
    std::cout << "  " << r["name"].get<std::string>() << "  " << r["url"].get<std::string>()
              << "\n    credential: " << r["credential"].get<std::string>() << "\n";
    if (r.contains("replicate_from"))
      std::cout << "    replica of " << r["replicate_from"].get<std::string>() << "\n";
    if (r.contains("cost_per_gib_month"))
      std::cout << "    cost " << r["cost_per_gib_month"].get<double>() << " per GiB-month\n";
  }
  std::cout << "\nsources:\n";
  for (size_t i = 0; i < c.sources.size(); ++i) {
    const auto& s = c.sources[i];
    const auto& js = j["sources"][i];
    std::cout << "  " << s.name << " (" << config::to_string(s.type) << ", " << s.kind << ") -> "
              << s.repository;
    if (s.type == config::SourceType::kPostgres) std::cout << ", stanza " << s.stanza;
    std::cout << "\n";
    for (const auto& sc : js["schedules"])
      std::cout << "    backup " << (sc.contains("type") ? sc["type"].get<std::string>() + " " : "")
                << "at \"" << sc["cron"].get<std::string>() << "\" (UTC), next "
                << (sc["next_run"].is_null() ? "never" : sc["next_run"].get<std::string>()) << "\n";
    std::cout << "    verify: newest backup younger than "
              << js["verify"]["max_age"].get<std::string>();
    if (js["verify"].contains("max_wal_lag"))
      std::cout << ", newest WAL younger than " << js["verify"]["max_wal_lag"].get<std::string>();
    std::cout << "\n";
    if (s.rpo || s.rto)
      std::cout << "    targets: RPO " << (s.rpo ? config::format_duration(*s.rpo) : "-")
                << ", RTO " << (s.rto ? config::format_duration(*s.rto) : "-") << "\n";
    if (js.contains("restore_test"))
      std::cout << "    restore test (" << js["restore_test"]["target"].get<std::string>()
                << ") at \"" << js["restore_test"]["cron"].get<std::string>() << "\" (UTC), next "
                << (js["restore_test"]["next_run"].is_null()
                        ? "never"
                        : js["restore_test"]["next_run"].get<std::string>())
                << "\n";
    if (s.stream) std::cout << "    WAL streaming kept running by the daemon\n";
    for (const auto& q : s.validate)
      std::cout << "    restore test: " << q.name << " expect " << q.expect << "\n";
    std::cout << "    retention: " << retention_text(c.retention_for(s)) << "\n";
  }
  std::cout << "\nprune: grace " << config::format_duration(c.prune_grace) << ", repack packs over "
            << static_cast<int>(c.prune_max_unused * 100 + 0.5) << "% unused\n";
  std::cout << "\ndaemon (strongroom serve): listens on " << c.server.listen
            << (c.server.tls_cert.empty() ? "" : " (TLS)") << ", state in " << c.server.state_dir
            << ", at most " << c.server.max_concurrent_jobs << " jobs at once\n";
  for (const auto& [name, job] : j["jobs"].items())
    std::cout << "  " << name << " " << job["repository"].get<std::string>()
              << (job.contains("to") ? " to " + job["to"].get<std::string>() : "") << " at \""
              << job["cron"].get<std::string>() << "\" (UTC), next "
              << (job["next_run"].is_null() ? "never" : job["next_run"].get<std::string>()) << "\n";
  std::cout << "  alerts: " << c.alerts.routes.size() << " route(s) to " << c.notify.size()
            << " notifier(s)\n";
  for (const auto& w : j["warnings"]) std::cout << "warning: " << w.get<std::string>() << "\n";
}

int run_check(const ConfigArgs& a) {
  std::string file = a.file.empty() ? env("STRONGROOM_CONFIG") : a.file;
  if (file.empty()) throw Error(Errc::kUsage, "give --config FILE (or set STRONGROOM_CONFIG)");
  config::Config c = config::load_config(file);
  std::vector<std::string> warnings;
  nlohmann::json j = check_json(c, clock_now_ns(a.now) / 1'000'000'000, warnings);
  if (a.json)
    print_json(j);
  else
    print_check(j, c);
  return 0;
}

}  // namespace

void add_config_commands(CLI::App& app, int& result) {
  auto* cfg = app.add_subcommand("config", "Work with the configuration file");
  cfg->require_subcommand(1);
  auto a = std::make_shared<ConfigArgs>();
  auto* check = cfg->add_subcommand(
      "check", "Validate a configuration file and show what it would do (exit 2 when invalid)");
  check->add_option("--config,file", a->file, "The file (env STRONGROOM_CONFIG)");
  check->add_flag("--json", a->json, "Print machine-readable JSON");
  add_now_option(check, a->now);
  check->callback([a, &result] { result = run_check(*a); });
}

}  // namespace sr::app

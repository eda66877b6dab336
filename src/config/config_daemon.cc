#include "config/config_daemon.h"

#include <algorithm>
#include <set>

namespace sr::config {

using namespace yaml_reader;

namespace {

RepositoryJob parse_job(const Value& v, const std::string& which) {
  Map m = v.map();
  RepositoryJob j;
  j.cron = parse_cron(m.need("cron"));
  if (which == "replicate") {
    if (auto x = m.get("from")) j.repository = x->nonempty();
    j.to = m.need("to").nonempty();
  } else if (auto x = m.get("repository")) {
    j.repository = x->nonempty();
  }
  if (which == "verify")
    if (auto x = m.get("read_data_subset")) {
      j.read_data_subset = x->nonempty();
      const std::string& s = j.read_data_subset;
      bool ok = (s.back() == '%' && s.size() > 1) || s.find('/') != std::string::npos;
      if (!ok) fail(x->where(), "a share such as 5% or a slice such as 1/20");
    }
  if (which == "expire")
    if (auto x = m.get("prune")) j.prune = x->boolean();
  m.finish();
  return j;
}

NotifierConfig parse_notifier(const std::string& name, const Value& v) {
  Map m = v.map();
  NotifierConfig n;
  n.name = name;
  int kinds = 0;
  if (auto x = m.get("webhook")) {
    ++kinds;
    Map w = x->map();
    if (auto y = w.get("url")) n.webhook_url = y->nonempty();
    if (auto y = w.get("url_file")) n.webhook_url_file = y->nonempty();
    if (n.webhook_url.empty() == n.webhook_url_file.empty())
      fail(x->where(), "give url or url_file (a URL that carries a token is a secret)");
    if (!n.webhook_url.empty() && n.webhook_url.rfind("http://", 0) != 0 &&
        n.webhook_url.rfind("https://", 0) != 0)
      fail(x->where(), "url: an http:// or https:// URL");
    w.finish();
  }
  if (auto x = m.get("command")) {
    ++kinds;
    n.command = x->nonempty();
  }
  if (auto x = m.get("email")) {
    ++kinds;
    Map e = x->map();
    NotifierConfig::Email em;
    Value url = e.need("smtp_url");
    em.smtp_url = url.nonempty();
    if (em.smtp_url.rfind("smtp://", 0) != 0 && em.smtp_url.rfind("smtps://", 0) != 0)
      fail(url.where(), "an smtp://host:port or smtps://host:port URL");
    em.from = e.need("from").nonempty();
    Value to = e.need("to");
    em.to = to.strings();
    if (em.to.empty()) fail(to.where(), "at least one recipient");
    for (const char* k : {"username", "password"})
      if (e.has(k))
        fail(Where{e.where().file, e.mark_of(k), e.child_path(k)},
             std::string("secrets are never written in the configuration: use ") + k + "_file or " +
                 k + "_env");
    for (auto [k, ref] : {std::pair{"username", &em.username}, {"password", &em.password}}) {
      auto f = e.get(std::string(k) + "_file"), en = e.get(std::string(k) + "_env");
      if (f) ref->file = f->nonempty();
      if (en) ref->env = en->nonempty();
      if (f && en) fail(en->where(), std::string("give ") + k + "_file or " + k + "_env, not both");
    }
    e.finish();
    n.email = em;
  }
  m.finish();
  if (kinds != 1) fail(v.where(), "a notifier is exactly one of webhook, command, email");
  return n;
}

}  // namespace

CronSchedule parse_cron(const Value& cron) {
  CronSchedule c;
  try {
    c = CronSchedule::parse(cron.str());
  } catch (const Error& e) {
    fail(cron.where(), e.what());
  }
  if (c.next_after(0) < 0 && c.next_after(4 * 366 * 86400LL) < 0)
    fail(cron.where(), "'" + cron.str() + "' never fires");
  return c;
}

void parse_source_daemon_keys(Map& m, SourceConfig& s) {
  if (auto x = m.get("stream")) {
    s.stream = x->boolean();
    if (s.stream && s.type != SourceType::kPostgres)
      fail(x->where(), "only postgres sources stream WAL");
  }
  if (auto x = m.get("restore_test")) {
    Map r = x->map();
    RestoreTestSchedule t;
    t.cron = parse_cron(r.need("cron"));
    if (auto y = r.get("target")) t.target = y->one_of({"latest", "random", "immediate"});
    r.finish();
    s.restore_test = t;
  }
  if (auto x = m.get("alerts")) {
    Map a = x->map();
    if (auto y = a.get("size_change")) s.alerts.size_change = y->fraction();
    if (auto y = a.get("size_median_of"))
      s.alerts.size_median_of = static_cast<int>(y->integer(3, 1000));
    if (auto y = a.get("disabled")) {
      s.alerts.disabled = y->strings();
      for (const auto& r : s.alerts.disabled)
        if (!std::count(std::begin(kAlertRules), std::end(kAlertRules), r))
          fail(y->where(), "no alert rule '" + r + "'");
    }
    a.finish();
  }
}

void parse_daemon_sections(Map& top, Config& c) {
  if (auto x = top.get("server")) {
    Map m = x->map();
    ServerConfig& s = c.server;
    if (auto y = m.get("listen")) {
      s.listen = y->nonempty();
      auto colon = s.listen.rfind(':');
      if (colon == std::string::npos || colon == 0 || colon + 1 == s.listen.size())
        fail(y->where(), "host:port, e.g. 127.0.0.1:8920");
    }
    if (auto y = m.get("token_file")) s.token_file = y->nonempty();
    if (m.has("token"))
      fail(Where{&c.file, m.mark_of("token"), m.child_path("token")},
           "secrets are never written in the configuration: use token_file");
    if (auto y = m.get("tls_cert")) s.tls_cert = y->nonempty();
    if (auto y = m.get("tls_key")) s.tls_key = y->nonempty();
    if (s.tls_cert.empty() != s.tls_key.empty()) fail(x->where(), "give tls_cert and tls_key");
    if (auto y = m.get("state_dir")) s.state_dir = y->nonempty();
    if (auto y = m.get("max_concurrent_jobs"))
      s.max_concurrent_jobs = static_cast<int>(y->integer(1, 64));
    if (auto y = m.get("missed_run_grace")) s.missed_run_grace = y->duration();
    if (auto y = m.get("shutdown_timeout")) s.shutdown_timeout = y->duration();
    if (auto y = m.get("refresh_every")) {
      s.refresh_every = y->duration();
      if (s.refresh_every < 1) fail(y->where(), "at least 1s");
    }
    m.finish();
  }
  if (auto x = top.get("jobs")) {
    Map m = x->map();
    for (auto [name, field] : {std::pair{"verify", &c.jobs.verify},
                               {"expire", &c.jobs.expire},
                               {"prune", &c.jobs.prune},
                               {"replicate", &c.jobs.replicate}})
      if (auto y = m.get(name)) *field = parse_job(*y, name);
    m.finish();
  }
  if (auto x = top.get("notify")) {
    Map m = x->map();
    for (const std::string& name : m.keys())
      if (auto y = m.get(name)) c.notify[name] = parse_notifier(name, *y);
    m.finish();
  }
  if (auto x = top.get("alerts")) {
    Map m = x->map();
    AlertsConfig& a = c.alerts;
    if (auto y = m.get("repeat_every")) a.repeat_every = y->duration();
    if (auto y = m.get("size_change")) a.size_change = y->fraction();
    if (auto y = m.get("size_median_of")) a.size_median_of = static_cast<int>(y->integer(3, 1000));
    if (auto y = m.get("replication_max_lag")) a.replication_max_lag = y->duration();
    if (auto y = m.get("routes"))
      y->for_each([&](const Value& item) {
        Map r = item.map();
        AlertRoute route;
        if (auto z = r.get("severity")) route.severities = z->strings();
        for (const auto& sv : route.severities)
          if (sv != "critical" && sv != "warning")
            fail(item.where(), "severity: critical or warning, not '" + sv + "'");
        if (auto z = r.get("sources")) route.sources = z->strings();
        if (auto z = r.get("rules")) route.rules = z->strings();
        for (const auto& rule : route.rules)
          if (!std::count(std::begin(kAlertRules), std::end(kAlertRules), rule))
            fail(item.where(), "no alert rule '" + rule + "'");
        Value n = r.need("notify");
        route.notify = n.strings();
        if (route.notify.empty()) fail(n.where(), "at least one notifier");
        r.finish();
        a.routes.push_back(route);
      });
    m.finish();
  }
}

void check_daemon_references(const Config& c) {
  auto where = [&](const std::string& path) {
    return Where{&c.file, YAML::Mark::null_mark(), path};
  };
  for (auto [name, job] : {std::pair{"verify", &c.jobs.verify},
                           {"expire", &c.jobs.expire},
                           {"prune", &c.jobs.prune},
                           {"replicate", &c.jobs.replicate}}) {
    if (!*job) continue;
    if (!c.repositories.count((*job)->repository))
      fail(where(std::string("jobs.") + name),
           "repository '" + (*job)->repository + "' is not defined under repositories");
    if (!(*job)->to.empty() && !c.repositories.count((*job)->to))
      fail(where(std::string("jobs.") + name),
           "to: repository '" + (*job)->to + "' is not defined under repositories");
    if (!(*job)->to.empty() && (*job)->to == (*job)->repository)
      fail(where(std::string("jobs.") + name), "replicates a repository onto itself");
  }
  std::set<std::string> sources;
  for (const auto& s : c.sources) sources.insert(s.name);
  for (size_t i = 0; i < c.alerts.routes.size(); ++i) {
    const auto& r = c.alerts.routes[i];
    std::string path = "alerts.routes[" + std::to_string(i) + "]";
    for (const auto& n : r.notify)
      if (!c.notify.count(n)) fail(where(path), "notify: no notifier '" + n + "' under notify");
    for (const auto& s : r.sources)
      if (!sources.count(s)) fail(where(path), "sources: no source '" + s + "'");
  }
}

}  // namespace sr::config

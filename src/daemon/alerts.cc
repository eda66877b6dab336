#include "daemon/alerts.h"

#include <algorithm>
#include <cmath>

#include "base/time_util.h"

namespace sr::daemon {
namespace {

std::string human_seconds(double s) {
  char buf[64];
  if (s < 120) {
    std::snprintf(buf, sizeof buf, "%.0f s", s);
  } else if (s < 7200) {
    std::snprintf(buf, sizeof buf, "%.0f min", s / 60);
  } else if (s < 172800) {
    std::snprintf(buf, sizeof buf, "%.1f h", s / 3600);
  } else {
    std::snprintf(buf, sizeof buf, "%.1f d", s / 86400);
  }
  return buf;
}

bool disabled(const config::SourceConfig& s, const char* rule) {
  return std::find(s.alerts.disabled.begin(), s.alerts.disabled.end(), rule) !=
         s.alerts.disabled.end();
}

}  // namespace

std::vector<AlertCondition> evaluate_rules(const AlertInputs& in) {
  std::vector<AlertCondition> out;
  const Snapshot& snap = *in.snapshot;
  const config::Config& c = *in.config;
  const double up_s = static_cast<double>(in.now_ns - in.daemon_started_ns) / 1e9;
  auto add = [&](const config::SourceConfig* s, const char* rule, const char* severity,
                 std::string summary) {
    if (s && disabled(*s, rule)) return;
    out.push_back({rule, s ? s->name : "", severity, std::move(summary)});
  };
  for (const auto& s : c.sources) {
    // backup_failed: the newest finished backup job of the source failed.
    const JobRecord* last_backup = nullptr;
    const JobRecord* last_verify = nullptr;
    for (const auto& j : in.last_jobs) {
      if (j.source != s.name) continue;
      if (j.job == "backup" && (!last_backup || j.end_ns > last_backup->end_ns)) last_backup = &j;
      if (j.job == "verify" && (!last_verify || j.end_ns > last_verify->end_ns)) last_verify = &j;
    }
    if (last_backup && last_backup->state == "failed")
      add(&s, "backup_failed", "critical",
          s.name + ": the last backup" +
              (last_backup->type.empty() ? "" : " (" + last_backup->type + ")") +
              " failed: " + last_backup->error);
    if (last_verify && last_verify->state == "failed")
      add(&s, "verify_failed", "critical", s.name + ": verification failed: " + last_verify->error);
    const BackupItem* newest = snap.newest_backup(s.name);
    const ops::SourceCheck* chk = snap.check(s.name);
    // backup_stale: newest backup older than verify.max_age (none at all: once the daemon has
    // been up for max_age, so a fresh install does not page at once).
    if (newest) {
      double age = static_cast<double>(in.now_ns - newest->end_ns) / 1e9;
      if (age > static_cast<double>(s.verify.max_age))
        add(&s, "backup_stale", "warning",
            s.name + ": the newest backup is " + human_seconds(age) + " old (max_age " +
                human_seconds(static_cast<double>(s.verify.max_age)) + ")");
      // backup_size_changed: against the median of the previous N of that source and type.
      double change = s.alerts.size_change.value_or(c.alerts.size_change);
      if (newest->size_median && *newest->size_median > 0) {
        double ratio = static_cast<double>(newest->size) / *newest->size_median - 1;
        if (std::fabs(ratio) > change)
          add(&s, "backup_size_changed", "warning",
              s.name + ": the newest " + newest->type + " backup is " +
                  std::to_string(static_cast<int>(std::lround(ratio * 100))) +
                  " % against the median of the previous ones (limit " +
                  std::to_string(static_cast<int>(std::lround(change * 100))) + " %)");
      }
    } else if (!s.schedules.empty() && up_s > static_cast<double>(s.verify.max_age)) {
      add(&s, "backup_stale", "warning",
          s.name + ": no backup in the repository after " + human_seconds(up_s) + " of service");
    }
    // rpo_breach: WAL (postgres) or the newest backup (others) older than the RPO.
    if (chk && s.type == config::SourceType::kPostgres && !chk->wal_fresh && chk->newest_wal_ns) {
      double lag = static_cast<double>(in.now_ns - chk->newest_wal_ns) / 1e9;
      add(&s, "rpo_breach", "critical",
          s.name + ": the newest WAL is " + human_seconds(lag) + " old (RPO " +
              human_seconds(static_cast<double>(chk->max_wal_lag_s.value_or(0))) + ")");
    } else if (s.rpo && s.type != config::SourceType::kPostgres && newest) {
      double age = static_cast<double>(in.now_ns - newest->end_ns) / 1e9;
      if (age > static_cast<double>(*s.rpo))
        add(&s, "rpo_breach", "critical",
            s.name + ": the newest backup is " + human_seconds(age) + " old (RPO " +
                human_seconds(static_cast<double>(*s.rpo)) + ")");
    }
    // Continuity and the PITR window (what verify checks) besides freshness.
    if (chk && (!chk->continuous ||
                (chk->pitr_window_s && chk->window_end_ns &&
                 static_cast<double>(chk->window_end_ns - chk->window_start_ns) / 1e9 <
                     static_cast<double>(*chk->pitr_window_s)) ||
                (chk->pitr_window_s && chk->backups && !chk->window_end_ns))) {
      std::string why;
      size_t count = 0;
      for (const auto& p : chk->problems)
        if (p.find("WAL") != std::string::npos || p.find("window") != std::string::npos)
          if (++count == 1) why = p;
      // The first finding; a WAL gap can name every later backup: the rest as a count.
      if (count > 1)
        why += " (and " + std::to_string(count - 1) + " more: strongroom verify --source " +
               s.name + ")";
      if (count) add(&s, "verify_failed", "warning", why);
    }
    // Restore tests.
    if (const nlohmann::json* t = snap.newest_restore_test(s.name)) {
      if (!t->value("passed", true))
        add(&s, "restore_test_failed", "critical",
            s.name + ": the last restore test failed" +
                (t->contains("error") ? ": " + t->value("error", "") : ""));
      double rto = t->value("rto_seconds", 0.0);
      if (s.rto && rto > static_cast<double>(*s.rto))
        add(&s, "rto_breach", "warning",
            s.name + ": the last restore test took " + human_seconds(rto) + " (RTO " +
                human_seconds(static_cast<double>(*s.rto)) + ")");
    }
    // WAL streaming kept running by the daemon.
    if (s.stream) {
      auto it = in.streams.find(s.name);
      if (it != in.streams.end() && !it->second.running && it->second.down_since_ns &&
          in.now_ns - it->second.down_since_ns > 60'000'000'000LL)
        add(&s, "stream_down", "critical",
            s.name + ": WAL streaming is down for " +
                human_seconds(static_cast<double>(in.now_ns - it->second.down_since_ns) / 1e9));
    }
  }
  for (const auto& j : in.last_jobs)
    if (j.source.empty() && j.job == "verify" && j.state == "failed")
      out.push_back({"verify_failed", "repository:" + j.repository, "critical",
                     "repository " + j.repository + ": verification failed: " + j.error});
  for (const auto& r : snap.repositories) {
    if (!r.error.empty())
      out.push_back({"daemon_health", "repository:" + r.name, "critical",
                     "repository " + r.name + " cannot be read: " + r.error});
    if (r.replication_lag_s &&
        *r.replication_lag_s > static_cast<double>(c.alerts.replication_max_lag))
      out.push_back({"replication_lag", "repository:" + r.name, "warning",
                     "replica " + r.name + " lags " + human_seconds(*r.replication_lag_s) +
                         " behind " + r.replicate_from + " (limit " +
                         human_seconds(static_cast<double>(c.alerts.replication_max_lag)) + ")"});
  }
  return out;
}

std::vector<const config::NotifierConfig*> routes_for(const config::Config& c,
                                                      const AlertRecord& a) {
  std::vector<const config::NotifierConfig*> out;
  auto matches = [](const std::vector<std::string>& allowed, const std::string& v) {
    return allowed.empty() || std::find(allowed.begin(), allowed.end(), v) != allowed.end();
  };
  for (const auto& r : c.alerts.routes) {
    if (!matches(r.severities, a.severity) || !matches(r.sources, a.source) ||
        !matches(r.rules, a.rule))
      continue;
    for (const auto& n : r.notify) {
      auto it = c.notify.find(n);
      if (it != c.notify.end() && std::find(out.begin(), out.end(), &it->second) == out.end())
        out.push_back(&it->second);
    }
  }
  return out;
}

nlohmann::json alert_message(const AlertRecord& a, const std::string& event,
                             const std::string& host) {
  nlohmann::json j = {{"event", event},  // firing | repeat | resolved
                      {"id", a.id},
                      {"rule", a.rule},
                      {"source", a.source},
                      {"severity", a.severity},
                      {"state", a.state},
                      {"summary", a.summary},
                      {"since", format_rfc3339(a.since_ns)},
                      {"host", host}};
  if (a.resolved_ns) j["resolved_at"] = format_rfc3339(a.resolved_ns);
  return j;
}

AlertEngine::AlertEngine(StateDb& db, Deliver deliver, std::string host)
    : db_(db), deliver_(std::move(deliver)), host_(std::move(host)) {}

void AlertEngine::send(AlertRecord& a, const std::string& event, const config::Config& c,
                       int64_t now_ns, const std::set<std::string>* only) {
  auto targets = routes_for(c, a);
  bool all = true;
  nlohmann::json msg = alert_message(a, event, host_);
  const std::string pending =
      std::to_string(a.id) + "/" + event + "/" + std::to_string(a.notifications);
  auto& done = delivered_[pending];
  for (const auto* n : targets) {
    if (done.count(n->name) || (only && !only->count(n->name))) continue;
    // A notifier that failed once in this pass is not tried again until the next one: each try
    // costs its retries, and the refresher (the catalog, SIGTERM) waits for them.
    if (failed_this_pass_.count(n->name) || !deliver_(*n, msg)) {
      failed_this_pass_.insert(n->name);
      all = false;
    } else {
      done.insert(n->name);
    }
  }
  if (!all) return;  // tried again at the next reconcile: recorded only when delivered
  delivered_.erase(pending);
  if (event == "resolved") {
    a.resolve_notified = true;
  } else {
    a.last_notified_ns = now_ns;
    ++a.notifications;
  }
  db_.save_alert(a);
}

void AlertEngine::reconcile(const std::vector<AlertCondition>& holding, const config::Config& c,
                            int64_t now_ns) {
  failed_this_pass_.clear();
  std::map<std::string, const AlertCondition*> now_holding;
  for (const auto& h : holding) now_holding.emplace(h.key(), &h);
  std::set<std::string> firing_keys;
  std::set<int64_t> resolved_now, live;
  for (auto& a : db_.firing_alerts()) {
    firing_keys.insert(a.key);
    auto it = now_holding.find(a.key);
    if (it == now_holding.end()) {
      a.state = "resolved";
      a.resolved_ns = now_ns;
      if (a.notifications == 0) {
        // Its firing reached some notifiers only (the others kept failing): the resolution goes
        // to those; if it reached none, there is nothing to resolve for anybody.
        auto heard = delivered_.find(std::to_string(a.id) + "/firing/0");
        std::set<std::string> who =
            heard == delivered_.end() ? std::set<std::string>{} : heard->second;
        a.resolve_notified = who.empty();
        db_.save_alert(a);
        if (!who.empty()) {
          send(a, "resolved", c, now_ns, &who);
          if (!a.resolve_notified) pending_resolution_[a.id] = who;
        }
      } else {
        db_.save_alert(a);
        send(a, "resolved", c, now_ns);
      }
      resolved_now.insert(a.id);
      live.insert(a.id);
      continue;
    }
    live.insert(a.id);
    if (a.summary != it->second->summary || a.severity != it->second->severity) {
      a.summary = it->second->summary;
      a.severity = it->second->severity;
      db_.save_alert(a);
    }
    if (a.notifications == 0) {
      send(a, "firing", c, now_ns);  // never delivered (a restart, a notifier that failed)
    } else if (now_ns - a.last_notified_ns >= c.alerts.repeat_every * 1'000'000'000LL) {
      send(a, "repeat", c, now_ns);
    }
  }
  for (const auto& [key, h] : now_holding) {
    if (firing_keys.count(key)) continue;
    AlertRecord a;
    a.key = key;
    a.rule = h->rule;
    a.source = h->source;
    a.severity = h->severity;
    a.summary = h->summary;
    a.state = "firing";
    a.since_ns = now_ns;
    db_.save_alert(a);
    live.insert(a.id);
    send(a, "firing", c, now_ns);
  }
  // Resolved alerts whose resolution was not delivered yet (a restart in between, a notifier
  // that failed).
  for (auto& a : db_.alerts(now_ns - 7 * 86400 * 1'000'000'000LL, 1000)) {
    if (a.state != "resolved" || a.resolve_notified || resolved_now.count(a.id)) continue;
    auto partial = pending_resolution_.find(a.id);
    if (a.notifications > 0) {
      send(a, "resolved", c, now_ns);
    } else if (partial != pending_resolution_.end()) {
      send(a, "resolved", c, now_ns, &partial->second);
    }
    if (!a.resolve_notified) live.insert(a.id);
  }
  // Forget the delivery bookkeeping of alerts that need nothing more.
  for (auto it = delivered_.begin(); it != delivered_.end();) {
    int64_t id = std::stoll(it->first.substr(0, it->first.find('/')));
    it = live.count(id) ? std::next(it) : delivered_.erase(it);
  }
  for (auto it = pending_resolution_.begin(); it != pending_resolution_.end();)
    it = live.count(it->first) ? std::next(it) : pending_resolution_.erase(it);
}

}  // namespace sr::daemon

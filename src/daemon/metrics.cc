// daemon/metrics.cc: /metrics in the Prometheus text exposition format (version 0.0.4), from
// the catalog snapshot and the state database. Names follow Prometheus conventions: base units
// (seconds, bytes), _total for counters, _timestamp_seconds for Unix times. Every family is
// declared (HELP, TYPE) even without samples, so scrapers and alert rules see stable names.
#include <cmath>
#include <map>
#include <sstream>

#include "base/time_util.h"
#include "daemon/daemon.h"

namespace sr::daemon {
namespace {

using Labels = std::vector<std::pair<std::string, std::string>>;

// A label value escaped as the format wants: backslash, double quote and newline.
std::string escape(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string number(double value) {
  if (std::isnan(value)) return "NaN";
  if (value == std::floor(value) && std::fabs(value) < 1e15)
    return std::to_string(static_cast<long long>(value));
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.15g", value);  // Unix times to the microsecond
  return buf;
}

class Exposition {
 public:
  void family(const std::string& name, const char* type, const char* help) {
    order_.push_back(name);
    head_[name] = "# HELP " + name + " " + help + "\n# TYPE " + name + " " + type + "\n";
  }
  void add(const std::string& name, const Labels& labels, double value) {
    std::string line = name;
    if (!labels.empty()) {
      line += "{";
      for (size_t i = 0; i < labels.size(); ++i)
        line += (i ? "," : "") + labels[i].first + "=\"" + escape(labels[i].second) + "\"";
      line += "}";
    }
    samples_[name] += line + " " + number(value) + "\n";
  }
  std::string str() const {
    std::string out;
    for (const auto& n : order_) {
      out += head_.at(n);
      auto it = samples_.find(n);
      if (it != samples_.end()) out += it->second;
    }
    return out;
  }

 private:
  std::vector<std::string> order_;
  std::map<std::string, std::string> head_, samples_;
};

}  // namespace

std::string Daemon::metrics_text() {
  auto snap = snapshot();
  auto cfg = config();
  const int64_t now = now_ns();
  Exposition e;
  e.family("strongroom_up", "gauge", "1 while the daemon runs.");
  e.family("strongroom_catalog_refresh_timestamp_seconds", "gauge",
           "When the catalog behind these metrics was read from the repositories.");
  e.family("strongroom_backup_last_success_timestamp_seconds", "gauge",
           "End time of the newest backup in the repository, per source and type.");
  e.family("strongroom_backup_last_status", "gauge",
           "1 when the newest finished backup job of the source and type succeeded, else 0.");
  e.family("strongroom_backup_duration_seconds", "gauge", "Duration of the newest backup.");
  e.family("strongroom_backup_size_bytes", "gauge", "Size of the newest backup (source bytes).");
  e.family("strongroom_backup_added_bytes", "gauge",
           "Bytes the newest backup added to the repository (deduplicated, compressed).");
  e.family("strongroom_backup_failures_total", "counter",
           "Backup jobs of this daemon that failed.");
  e.family("strongroom_max_age_seconds", "gauge", "The source's verify.max_age.");
  e.family("strongroom_wal_last_archived_timestamp_seconds", "gauge",
           "When the newest WAL of the source's stanza was stored.");
  e.family("strongroom_rpo_seconds", "gauge",
           "Current recovery point: age of the newest WAL (postgres) or backup (others).");
  e.family("strongroom_rpo_target_seconds", "gauge", "The source's RPO target.");
  e.family("strongroom_pitr_window_start_timestamp_seconds", "gauge",
           "Oldest time a point-in-time recovery can reach.");
  e.family("strongroom_pitr_window_seconds", "gauge", "Length of the point-in-time window.");
  e.family("strongroom_restore_test_last_success_timestamp_seconds", "gauge",
           "End of the newest restore test that passed.");
  e.family("strongroom_restore_test_last_status", "gauge",
           "1 when the newest restore test passed.");
  e.family("strongroom_restore_test_rto_seconds", "gauge",
           "RTO measured by the newest restore test.");
  e.family("strongroom_rto_target_seconds", "gauge", "The source's RTO target.");
  e.family("strongroom_repository_size_bytes", "gauge", "Bytes stored in the repository.");
  e.family("strongroom_repository_backups", "gauge", "Backups in the repository.");
  e.family("strongroom_repository_estimated_monthly_cost", "gauge",
           "size × cost_per_gib_month (in the configuration's currency).");
  e.family("strongroom_replication_lag_seconds", "gauge",
           "How long the oldest backup the replica lacks has been waiting (0: up to date).");
  e.family("strongroom_job_running", "gauge", "Jobs running now, per job kind.");
  e.family("strongroom_jobs_queued", "gauge", "Jobs waiting for a free slot.");
  e.family("strongroom_alerts_firing", "gauge", "Alerts firing now, per severity.");
  e.family("strongroom_stream_up", "gauge", "1 while the source's WAL stream runs.");

  e.add("strongroom_up", {}, 1);
  if (snap) e.add("strongroom_catalog_refresh_timestamp_seconds", {}, snap->taken_ns / 1e9);
  auto labels = [](const config::SourceConfig& s) {
    return Labels{{"source", s.name}, {"kind", s.kind}, {"repository", s.repository}};
  };
  auto with_type = [&](const config::SourceConfig& s, const std::string& type) {
    Labels l = labels(s);
    l.emplace_back("type", type);
    return l;
  };
  auto add_backup_series = [&](const Labels& l, const BackupItem& b) {
    e.add("strongroom_backup_last_success_timestamp_seconds", l, b.end_ns / 1e9);
    e.add("strongroom_backup_duration_seconds", l, (b.end_ns - b.start_ns) / 1e9);
    e.add("strongroom_backup_size_bytes", l, static_cast<double>(b.size));
    e.add("strongroom_backup_added_bytes", l, static_cast<double>(b.added));
  };
  std::map<std::pair<std::string, std::string>, const BackupItem*> newest;
  if (snap)
    for (const auto& b : snap->backups) newest[{b.source, b.type}] = &b;  // oldest first
  const auto last_jobs = db_->last_finished_jobs();
  for (const auto& s : cfg->sources) {
    for (const auto& [key, b] : newest)
      if (key.first == s.name) add_backup_series(with_type(s, key.second), *b);
    std::map<std::string, const JobRecord*> last_of_type;  // newest per type (any repository)
    for (const auto& j : last_jobs)
      if (j.source == s.name && j.job == "backup") {
        const std::string type = j.type.empty() ? config::to_string(s.type) : j.type;
        auto& slot = last_of_type[type];
        if (!slot || j.id > slot->id) slot = &j;
      }
    for (const auto& [type, j] : last_of_type)
      e.add("strongroom_backup_last_status", with_type(s, type), j->state == "ok" ? 1 : 0);
    // A counter that never goes down: kept in the state database's meta table, not counted
    // from the job history (which forgets old jobs).
    e.add("strongroom_backup_failures_total", labels(s),
          static_cast<double>(db_->meta_int("backup_failures/" + s.name).value_or(0)));
    e.add("strongroom_max_age_seconds", labels(s), static_cast<double>(s.verify.max_age));
    const ops::SourceCheck* c = snap ? snap->check(s.name) : nullptr;
    const BackupItem* b = snap ? snap->newest_backup(s.name) : nullptr;
    std::optional<int64_t> rpo_target = s.rpo;
    if (c && c->newest_wal_ns) {
      e.add("strongroom_wal_last_archived_timestamp_seconds", labels(s), c->newest_wal_ns / 1e9);
      e.add("strongroom_rpo_seconds", labels(s), (now - c->newest_wal_ns) / 1e9);
      if (!rpo_target) rpo_target = c->max_wal_lag_s;
    } else if (b && s.type != config::SourceType::kPostgres) {
      e.add("strongroom_rpo_seconds", labels(s), (now - b->end_ns) / 1e9);
    }
    if (rpo_target)
      e.add("strongroom_rpo_target_seconds", labels(s), static_cast<double>(*rpo_target));
    if (c && c->window_end_ns) {
      e.add("strongroom_pitr_window_start_timestamp_seconds", labels(s), c->window_start_ns / 1e9);
      e.add("strongroom_pitr_window_seconds", labels(s),
            (c->window_end_ns - c->window_start_ns) / 1e9);
    }
    if (snap) {
      const nlohmann::json* newest_test = nullptr;
      const nlohmann::json* newest_pass = nullptr;
      for (const auto& t : snap->restore_tests) {
        if (t.value("source", "") != s.name) continue;
        newest_test = &t;
        if (t.value("passed", false)) newest_pass = &t;
      }
      if (newest_pass)
        e.add("strongroom_restore_test_last_success_timestamp_seconds", labels(s),
              newest_pass->value("finished_ns", int64_t{0}) / 1e9);
      if (newest_test) {
        e.add("strongroom_restore_test_last_status", labels(s),
              newest_test->value("passed", false));
        e.add("strongroom_restore_test_rto_seconds", labels(s),
              newest_test->value("rto_seconds", 0.0));
      }
    }
    if (s.rto) e.add("strongroom_rto_target_seconds", labels(s), static_cast<double>(*s.rto));
  }
  // Sources of other configurations sharing a repository: their backups, as the catalog has them.
  if (snap)
    for (const auto& name : snap->other_sources())
      for (const auto& [key, b] : newest)
        if (key.first == name)
          add_backup_series(
              {{"source", name}, {"kind", ""}, {"repository", b->repository}, {"type", key.second}},
              *b);
  if (snap)
    for (const auto& r : snap->repositories) {
      Labels l{{"repository", r.name}};
      if (!r.error.empty()) continue;
      e.add("strongroom_repository_size_bytes", l, static_cast<double>(r.size_bytes));
      e.add("strongroom_repository_backups", l, static_cast<double>(r.backups));
      e.add("strongroom_repository_estimated_monthly_cost", l, r.estimated_monthly_cost());
      if (r.replication_lag_s)
        e.add("strongroom_replication_lag_seconds",
              {{"repository", r.name}, {"from", r.replicate_from}}, *r.replication_lag_s);
    }
  {
    std::lock_guard lock(mu_);
    std::map<std::string, double> running;
    for (const char* j : {"backup", "verify", "restore-test", "expire", "prune", "replicate"})
      running[j] = 0;
    for (const auto& [id, r] : running_)
      if (!r->done) running[r->spec.job] += 1;
    for (const auto& [job, n] : running) e.add("strongroom_job_running", {{"job_kind", job}}, n);
    e.add("strongroom_jobs_queued", {}, static_cast<double>(queue_.size()));
    for (const auto& [name, st] : streams_)
      for (const auto& src : cfg->sources)
        if (src.name == name) e.add("strongroom_stream_up", labels(src), st->running ? 1 : 0);
  }
  double critical = 0, warning = 0;
  for (const auto& a : db_->firing_alerts()) (a.severity == "critical" ? critical : warning) += 1;
  e.add("strongroom_alerts_firing", {{"severity", "critical"}}, critical);
  e.add("strongroom_alerts_firing", {{"severity", "warning"}}, warning);
  return e.str();
}

}  // namespace sr::daemon

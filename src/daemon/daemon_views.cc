// daemon/daemon_views.cc: the JSON the API serves (docs/daemon.md), from the catalog snapshot,
// the state database and the scheduler's view. Kept apart from daemon.cc (the running of jobs).
#include <fstream>
#include <sstream>

#include "base/time_util.h"
#include "daemon/daemon.h"

namespace sr::daemon {
namespace {

constexpr int64_t kNs = 1'000'000'000;

nlohmann::json time_or_null(int64_t ns) {
  return ns ? nlohmann::json(format_rfc3339(ns)) : nlohmann::json();
}

std::string host() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

nlohmann::json Daemon::job_json(const JobRecord& j) const {
  nlohmann::json out = {{"id", j.id},
                        {"source", j.source.empty() ? nlohmann::json() : nlohmann::json(j.source)},
                        {"repository", j.repository},
                        {"job", j.job},
                        {"type", j.type.empty() ? nlohmann::json() : nlohmann::json(j.type)},
                        {"trigger", j.trigger},
                        {"state", j.state},
                        {"queued", time_or_null(j.queued_ns)},
                        {"start", time_or_null(j.start_ns)},
                        {"end", time_or_null(j.end_ns)},
                        {"duration_s", nullptr},
                        {"bytes", j.bytes},
                        {"error", j.error}};
  if (j.start_ns && j.end_ns) out["duration_s"] = static_cast<double>(j.end_ns - j.start_ns) / 1e9;
  return out;
}

nlohmann::json source_status_json(const config::SourceConfig& s, const Snapshot* snap,
                                  const std::vector<JobRecord>& last_jobs,
                                  const std::vector<Schedule>& schedules,
                                  const std::optional<StreamView>& stream,
                                  const std::vector<AlertRecord>& firing, int64_t now) {
  nlohmann::json j = {{"name", s.name},
                      {"type", config::to_string(s.type)},
                      {"kind", s.kind},
                      {"repository", s.repository},
                      {"last_backup", nullptr},
                      {"last_job", nullptr},
                      {"age_s", nullptr},
                      {"max_age_s", s.verify.max_age},
                      {"next_run", nullptr},
                      {"rpo_s", nullptr},
                      {"rpo_target_s", s.rpo ? nlohmann::json(*s.rpo) : nlohmann::json()},
                      {"pitr_window", nullptr},
                      {"restore_test", nullptr},
                      {"streaming", nullptr},
                      {"problems", nlohmann::json::array()},
                      {"problems_total", 0},
                      {"configured", true}};
  std::string state = "unknown";
  const BackupItem* newest = snap ? snap->newest_backup(s.name) : nullptr;
  if (newest) {
    j["last_backup"] = {
        {"id", newest->id},
        {"type", newest->type},
        {"end", format_rfc3339(newest->end_ns)},
        {"duration_s", static_cast<double>(newest->end_ns - newest->start_ns) / 1e9},
        {"size_bytes", newest->size},
        {"added_bytes", newest->added},
        {"files", newest->files}};
    j["age_s"] = static_cast<double>(now - newest->end_ns) / 1e9;
    state = "ok";
  }
  const JobRecord* last = nullptr;
  for (const auto& r : last_jobs)
    if (r.source == s.name && (!last || r.end_ns > last->end_ns)) last = &r;
  if (last)
    j["last_job"] = {{"id", last->id},
                     {"job", last->job},
                     {"type", last->type},
                     {"state", last->state},
                     {"end", time_or_null(last->end_ns)},
                     {"error", last->error}};
  // Next run: the earliest fire of this source's schedules after now.
  int64_t best = -1;
  const Schedule* best_s = nullptr;
  for (const auto& sch : schedules) {
    if (sch.spec.source != s.name) continue;
    int64_t f = sch.cron.next_after(now / kNs);
    if (f >= 0 && (best < 0 || f < best)) {
      best = f;
      best_s = &sch;
    }
  }
  if (best_s)
    j["next_run"] = {
        {"job", best_s->spec.job},
        {"type", best_s->spec.type.empty() ? nlohmann::json() : nlohmann::json(best_s->spec.type)},
        {"at", format_rfc3339(best * kNs)}};
  if (const ops::SourceCheck* chk = snap ? snap->check(s.name) : nullptr) {
    // The first ones (a WAL gap can name every later backup): the count says how many there are.
    constexpr size_t kShown = 20;
    for (size_t i = 0; i < chk->problems.size() && i < kShown; ++i)
      j["problems"].push_back(chk->problems[i]);
    j["problems_total"] = chk->problems.size();
    if (chk->newest_wal_ns) j["rpo_s"] = static_cast<double>(now - chk->newest_wal_ns) / 1e9;
    if (chk->max_wal_lag_s && j["rpo_target_s"].is_null()) j["rpo_target_s"] = *chk->max_wal_lag_s;
    if (chk->window_end_ns)
      j["pitr_window"] = {
          {"start", format_rfc3339(chk->window_start_ns)},
          {"end", format_rfc3339(chk->window_end_ns)},
          {"seconds", static_cast<double>(chk->window_end_ns - chk->window_start_ns) / 1e9},
          {"target_s",
           chk->pitr_window_s ? nlohmann::json(*chk->pitr_window_s) : nlohmann::json()}};
    if (!chk->problems.empty()) state = "warning";
  }
  if (newest && s.type != config::SourceType::kPostgres)
    j["rpo_s"] = j["age_s"];  // a files/command source's recovery point is its newest backup
  if (const nlohmann::json* t = snap ? snap->newest_restore_test(s.name) : nullptr) {
    int64_t end = t->value("finished_ns", int64_t{0});
    j["restore_test"] = {{"end", time_or_null(end)},
                         {"passed", t->value("passed", false)},
                         {"rto_s", t->value("rto_seconds", 0.0)},
                         {"rto_target_s", s.rto ? nlohmann::json(*s.rto) : nlohmann::json()}};
    if (!t->value("passed", false)) state = "critical";
  }
  if (stream)
    j["streaming"] = {{"running", stream->running},
                      {"restarts", stream->restarts},
                      {"since", time_or_null(stream->since_ns)}};
  if (last && last->job == "backup" && last->state == "failed") state = "critical";
  for (const auto& a : firing)
    if (a.source == s.name) {
      if (a.severity == "critical") state = "critical";
      if (a.severity == "warning" && state != "critical") state = "warning";
    }
  j["state"] = state;
  return j;
}

nlohmann::json Daemon::status_json() {
  auto snap = snapshot();
  auto cfg = config();
  auto last_jobs = db_->last_finished_jobs();
  int64_t now = now_ns();
  nlohmann::json sources = nlohmann::json::array();
  size_t running = 0, queued = 0;
  auto firing = db_->firing_alerts();
  {
    std::lock_guard lock(mu_);
    for (const auto& s : cfg->sources) {
      std::optional<StreamView> stream;
      if (auto it = streams_.find(s.name); it != streams_.end())
        stream = StreamView{it->second->running, it->second->restarts, it->second->since_ns};
      sources.push_back(
          source_status_json(s, snap.get(), last_jobs, schedules_, stream, firing, now));
    }
    if (snap)
      for (const auto& name : snap->other_sources())
        sources.push_back(other_source_json(name, *snap, now));
    for (const auto& [id, r] : running_)
      if (!r->done) ++running;
    queued = queue_.size();
  }
  size_t critical = 0, warning = 0;
  for (const auto& a : firing) (a.severity == "critical" ? critical : warning)++;
  return {{"daemon",
           {{"version", opt_.version},
            {"host", host()},
            {"started", format_rfc3339(started_ns_)},
            {"now", format_rfc3339(now)},
            {"snapshot_at", snap ? time_or_null(snap->taken_ns) : nlohmann::json()},
            {"config", opt_.config_file},
            {"running_jobs", running},
            {"queued_jobs", queued},
            {"max_concurrent_jobs", cfg->server.max_concurrent_jobs}}},
          {"sources", sources},
          {"repositories", repositories_json()["repositories"]},
          {"alerts", {{"firing", firing.size()}, {"critical", critical}, {"warning", warning}}}};
}

nlohmann::json other_source_json(const std::string& name, const Snapshot& snap, int64_t now) {
  const BackupItem* b = snap.newest_backup(name);
  nlohmann::json j = {{"name", name},
                      {"configured", false},
                      {"type", nullptr},
                      {"kind", nullptr},
                      {"repository", b ? nlohmann::json(b->repository) : nlohmann::json()},
                      {"state", "unknown"},
                      {"last_backup", nullptr},
                      {"last_job", nullptr},
                      {"age_s", nullptr},
                      {"max_age_s", nullptr},
                      {"next_run", nullptr},
                      {"rpo_s", nullptr},
                      {"rpo_target_s", nullptr},
                      {"pitr_window", nullptr},
                      {"restore_test", nullptr},
                      {"streaming", nullptr},
                      {"problems", nlohmann::json::array()},
                      {"problems_total", 0}};
  if (b) {
    j["last_backup"] = {{"id", b->id},
                        {"type", b->type},
                        {"end", format_rfc3339(b->end_ns)},
                        {"duration_s", static_cast<double>(b->end_ns - b->start_ns) / 1e9},
                        {"size_bytes", b->size},
                        {"added_bytes", b->added},
                        {"files", b->files}};
    j["age_s"] = static_cast<double>(now - b->end_ns) / 1e9;
    j["host"] = b->host;
  }
  return j;
}

nlohmann::json offline_status_json(const config::Config& c, const Snapshot& snap, int64_t now) {
  nlohmann::json sources = nlohmann::json::array();
  auto schedules = schedules_of(c);
  for (const auto& s : c.sources)
    sources.push_back(source_status_json(s, &snap, {}, schedules, std::nullopt, {}, now));
  for (const auto& name : snap.other_sources())
    sources.push_back(other_source_json(name, snap, now));
  nlohmann::json repos = nlohmann::json::array();
  for (const auto& r : snap.repositories) repos.push_back(r.to_json());
  return {{"daemon", nullptr},
          {"now", format_rfc3339(now)},
          {"sources", sources},
          {"repositories", repos}};
}

nlohmann::json Daemon::backups_json(const std::string& source, size_t limit) {
  auto snap = snapshot();
  nlohmann::json list = nlohmann::json::array();
  if (snap)
    for (auto it = snap->backups.rbegin(); it != snap->backups.rend() && list.size() < limit; ++it)
      if (source.empty() || it->source == source) list.push_back(it->to_json());
  return {{"backups", list}};
}

nlohmann::json Daemon::jobs_json(const std::string& source, size_t limit) {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& j : db_->jobs(source, limit)) list.push_back(job_json(j));
  return {{"jobs", list}};
}

std::optional<std::string> Daemon::job_log(int64_t id) {
  auto j = db_->job(id);
  if (!j) return std::nullopt;
  if (j->log_path.empty()) return std::string();
  std::ifstream in(j->log_path, std::ios::binary | std::ios::ate);
  if (!in) return std::string();
  constexpr std::streamoff kMax = 4 << 20;  // the tail of a very long log
  const std::streamoff size = in.tellg();
  std::string s;
  if (size > kMax) s = "[… " + std::to_string(size - kMax) + " bytes left out]\n";
  in.seekg(std::max<std::streamoff>(0, size - kMax));
  std::string body(static_cast<size_t>(std::min(size, kMax)), '\0');
  in.read(body.data(), static_cast<std::streamsize>(body.size()));
  body.resize(static_cast<size_t>(in.gcount()));
  s += body;
  return s;
}

nlohmann::json Daemon::restore_tests_json(const std::string& source, size_t limit) {
  auto snap = snapshot();
  nlohmann::json list = nlohmann::json::array();
  if (snap)
    for (auto it = snap->restore_tests.rbegin();
         it != snap->restore_tests.rend() && list.size() < limit; ++it) {
      const auto& t = *it;
      if (!source.empty() && t.value("source", "") != source) continue;
      nlohmann::json v = nlohmann::json::array();
      if (t.contains("validations") && t["validations"].is_array())
        for (const auto& x : t["validations"])
          v.push_back({{"name", x.value("name", "")},
                       {"passed", x.value("passed", false)},
                       {"expect", x.value("expect", "")},
                       {"got", x.value("got", "")}});
      auto source_name = t.value("source", "");
      std::optional<int64_t> rto_target;
      for (const auto& s : config()->sources)
        if (s.name == source_name) rto_target = s.rto;
      list.push_back({{"id", t.value("stored_as", "")},
                      {"source", source_name},
                      {"backup_id", t.value("backup", "")},
                      {"target", t.value("target", "")},
                      {"target_time", t.value("target_time", "")},
                      {"start", time_or_null(t.value("started_ns", int64_t{0}))},
                      {"end", time_or_null(t.value("finished_ns", int64_t{0}))},
                      {"passed", t.value("passed", false)},
                      {"rto_s", t.value("rto_seconds", 0.0)},
                      {"rto_target_s", rto_target ? nlohmann::json(*rto_target) : nlohmann::json()},
                      {"validations", v},
                      {"error", t.value("error", "")}});
    }
  return {{"restore_tests", list}};
}

nlohmann::json Daemon::alerts_json() {
  nlohmann::json list = nlohmann::json::array();
  int64_t now = now_ns();
  for (const auto& a : db_->alerts(now - 7 * 86400 * kNs, 500))
    list.push_back({{"id", a.id},
                    {"rule", a.rule},
                    {"source", a.source},
                    {"severity", a.severity},
                    {"state", a.state},
                    {"summary", a.summary},
                    {"since", time_or_null(a.since_ns)},
                    {"resolved_at", time_or_null(a.resolved_ns)},
                    {"last_notified", time_or_null(a.last_notified_ns)}});
  return {{"alerts", list}};
}

nlohmann::json Daemon::repositories_json() {
  auto snap = snapshot();
  nlohmann::json list = nlohmann::json::array();
  if (snap)
    for (const auto& r : snap->repositories) list.push_back(r.to_json());
  return {{"repositories", list}};
}

}  // namespace sr::daemon

#include "daemon/scheduler.h"

#include <algorithm>

namespace sr::daemon {

std::string JobSpec::slot() const {
  return source.empty() ? "repository:" + repository : "source:" + source;
}

std::vector<Schedule> schedules_of(const config::Config& c) {
  std::vector<Schedule> out;
  for (const auto& s : c.sources) {
    for (size_t i = 0; i < s.schedules.size(); ++i) {
      const auto& sc = s.schedules[i];
      Schedule sch;
      sch.key =
          "backup/" + s.name + (sc.type.empty() ? "" : "/" + sc.type) + "#" + std::to_string(i);
      sch.spec = {"backup", s.name, s.repository, sc.type, "", ""};
      sch.cron = sc.cron;
      out.push_back(std::move(sch));
    }
    if (s.restore_test) {
      Schedule sch;
      sch.key = "restore-test/" + s.name;
      sch.spec = {"restore-test", s.name, s.repository, "", "", s.restore_test->target};
      sch.cron = s.restore_test->cron;
      out.push_back(std::move(sch));
    }
  }
  auto add = [&](const char* job, const std::optional<config::RepositoryJob>& j) {
    if (!j) return;
    Schedule sch;
    sch.key = std::string(job) + "/" + j->repository + (j->to.empty() ? "" : ">" + j->to);
    std::string option = std::string(job) == "verify"   ? j->read_data_subset
                         : std::string(job) == "expire" ? (j->prune ? "prune" : "")
                                                        : "";
    sch.spec = {job, "", j->repository, "", j->to, option};
    sch.cron = j->cron;
    out.push_back(std::move(sch));
  };
  add("verify", c.jobs.verify);
  add("expire", c.jobs.expire);
  add("prune", c.jobs.prune);
  add("replicate", c.jobs.replicate);
  return out;
}

DuePlan plan_due(const std::vector<Schedule>& schedules,
                 const std::map<std::string, int64_t>& last_fire, int64_t first_start_s,
                 int64_t started_s, int64_t now_s, int64_t missed_run_grace_s) {
  DuePlan plan;
  for (const auto& sch : schedules) {
    auto it = last_fire.find(sch.key);
    int64_t from = it == last_fire.end() ? first_start_s : it->second;
    int64_t fire = sch.cron.next_after(from);
    if (fire < 0) continue;
    if (fire > now_s) {
      plan.next_s = plan.next_s < 0 ? fire : std::min(plan.next_s, fire);
      continue;
    }
    // The newest fire at or before now (several may have passed while the daemon was down).
    int64_t newest = fire;
    for (int guard = 0; guard < 1'000'000; ++guard) {
      int64_t n = sch.cron.next_after(newest);
      if (n < 0 || n > now_s) break;
      newest = n;
    }
    bool missed = newest < started_s;
    if (missed && now_s - newest > missed_run_grace_s) {
      plan.skipped.push_back({&sch, newest});
    } else {
      plan.due.push_back({&sch, newest, missed});
    }
    int64_t after = sch.cron.next_after(newest);
    if (after >= 0) plan.next_s = plan.next_s < 0 ? after : std::min(plan.next_s, after);
  }
  return plan;
}

}  // namespace sr::daemon

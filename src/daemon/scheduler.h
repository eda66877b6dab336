// daemon/scheduler.h: what the configuration schedules, and when each schedule is due. Pure
// (no clock, no I/O): the daemon passes "now" and the last fire of each schedule, so tests set
// the clock to the second.
//
// A schedule's fires are the times its cron expression (UTC) matches. A fire is due once `now`
// has reached it; the daemon records the fire it handled (StateDb::set_last_fire), so a fire runs
// once. After the daemon was down, only the newest missed fire runs, and only while it is within
// `missed_run_grace` of now (one catch-up run, not one per missed fire); older ones are skipped.
// A schedule that never fired before counts from the daemon's first start: installing the daemon
// does not run every schedule at once.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace sr::daemon {

// One job the daemon can run: the CLI command it is (daemon/jobs.h builds its argv).
struct JobSpec {
  std::string job;         // backup | verify | restore-test | expire | prune | replicate
  std::string source;      // "" for repository-wide jobs
  std::string repository;  // the repository it works on (replicate: from)
  std::string type;        // postgres backups: full | diff | incr
  std::string to;          // replicate: the target repository
  std::string option;      // verify: read_data_subset; restore-test: target; expire: "prune"

  // Jobs with the same slot never run at once: a source's jobs share one; repository-wide jobs
  // of one repository share another.
  std::string slot() const;
  bool operator==(const JobSpec&) const = default;
};

struct Schedule {
  std::string key;  // stable across restarts: "backup/accounts/full#0", "verify/primary", …
  JobSpec spec;
  config::CronSchedule cron;
};

std::vector<Schedule> schedules_of(const config::Config& c);

struct DueRun {
  const Schedule* schedule;
  int64_t fire_s;  // the fire it handles (recorded as the schedule's last fire)
  bool missed;     // the fire was before the daemon started (a catch-up run at start-up)
};

struct Skipped {
  const Schedule* schedule;
  int64_t fire_s;  // the newest fire, too old to catch up: recorded so it is not seen again
};

struct DuePlan {
  std::vector<DueRun> due;
  std::vector<Skipped> skipped;
  int64_t next_s = -1;  // the earliest fire after now of all schedules (-1: none)
};

// last_fire: schedule key → last handled fire (absent: counts from `first_start_s`).
DuePlan plan_due(const std::vector<Schedule>& schedules,
                 const std::map<std::string, int64_t>& last_fire, int64_t first_start_s,
                 int64_t started_s, int64_t now_s, int64_t missed_run_grace_s);

}  // namespace sr::daemon

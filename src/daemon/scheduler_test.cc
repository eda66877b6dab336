#include "daemon/scheduler.h"

#include <gtest/gtest.h>

#include "base/time_util.h"

namespace sr::daemon {
namespace {

constexpr int64_t kNs = 1'000'000'000;
int64_t at(const char* t) { return parse_rfc3339(t) / kNs; }

config::Config cfg(const std::string& extra = "") {
  return config::parse_config(
      "repositories: {primary: {url: /tmp/r}, dr: {url: /tmp/dr}}\n"
      "sources:\n"
      "  accounts:\n"
      "    type: postgres\n    kind: database\n    pg_data: /d\n    pg_conn: host=/tmp\n"
      "    schedules: [{type: full, cron: '0 2 * * *'}, {type: diff, cron: '0 8,14,20 * * *'}]\n"
      "    restore_test: {cron: '0 4 1 * *', target: random}\n"
      "  etc: {type: files, kind: configuration, paths: [/etc], schedules: [{cron: '30 2 * * "
      "*'}]}\n"
      "jobs:\n"
      "  verify: {cron: '0 6 * * *', read_data_subset: 5%}\n"
      "  replicate: {cron: '*/15 * * * *', to: dr}\n" +
          extra,
      "test.yaml");
}

TEST(Scheduler, SchedulesOfTheConfiguration) {
  auto c = cfg();
  auto s = schedules_of(c);
  ASSERT_EQ(s.size(), 6u);
  EXPECT_EQ(s[0].key, "backup/accounts/full#0");
  EXPECT_EQ(s[0].spec.type, "full");
  EXPECT_EQ(s[1].key, "backup/accounts/diff#1");
  EXPECT_EQ(s[2].key, "restore-test/accounts");
  EXPECT_EQ(s[2].spec.option, "random");
  EXPECT_EQ(s[3].spec.source, "etc");
  EXPECT_EQ(s[4].key, "verify/primary");
  EXPECT_EQ(s[4].spec.option, "5%");
  EXPECT_EQ(s[5].key, "replicate/primary>dr");
  EXPECT_EQ(s[5].spec.to, "dr");
  // One slot per source; repository-wide jobs share the repository's.
  EXPECT_EQ(s[0].spec.slot(), s[2].spec.slot());
  EXPECT_NE(s[0].spec.slot(), s[3].spec.slot());
  EXPECT_EQ(s[4].spec.slot(), s[5].spec.slot());
}

TEST(Scheduler, AJobRunsAtItsCronTimeOnce) {
  auto c = cfg();
  auto s = schedules_of(c);
  std::vector<Schedule> full{s[0]};
  int64_t first = at("2026-12-01T01:00:00Z");
  std::map<std::string, int64_t> last;
  auto p = plan_due(full, last, first, first, at("2026-12-01T01:59:59Z"), 3600);
  EXPECT_TRUE(p.due.empty());
  EXPECT_EQ(p.next_s, at("2026-12-02T02:00:00Z") - 86400);  // today 02:00
  p = plan_due(full, last, first, first, at("2026-12-01T02:00:00Z"), 3600);
  ASSERT_EQ(p.due.size(), 1u);
  EXPECT_EQ(p.due[0].fire_s, at("2026-12-01T02:00:00Z"));
  EXPECT_FALSE(p.due[0].missed);
  last[full[0].key] = p.due[0].fire_s;  // recorded by the daemon
  p = plan_due(full, last, first, first, at("2026-12-01T02:00:01Z"), 3600);
  EXPECT_TRUE(p.due.empty());
  EXPECT_EQ(p.next_s, at("2026-12-02T02:00:00Z"));
}

TEST(Scheduler, AFreshInstallDoesNotRunEverySchedule) {
  auto s = schedules_of(cfg());
  int64_t now = at("2026-12-01T12:34:56Z");
  auto p = plan_due(s, {}, now, now, now, 3600);
  EXPECT_TRUE(p.due.empty());
  EXPECT_TRUE(p.skipped.empty());
}

TEST(Scheduler, AMissedRunRunsOnceAfterARestartWithinTheGrace) {
  auto s = schedules_of(cfg());
  std::vector<Schedule> full{s[0]};
  std::map<std::string, int64_t> last{{full[0].key, at("2026-11-28T02:00:00Z")}};
  // Down from the 28th to the 1st, 02:30: three fires missed, one run, for the newest.
  int64_t started = at("2026-12-01T02:30:00Z");
  auto p = plan_due(full, last, 0, started, started, 3600);
  ASSERT_EQ(p.due.size(), 1u);
  EXPECT_EQ(p.due[0].fire_s, at("2026-12-01T02:00:00Z"));
  EXPECT_TRUE(p.due[0].missed);
  // Exactly at the grace boundary it still runs; one second later it is skipped.
  started = at("2026-12-01T03:00:00Z");
  p = plan_due(full, last, 0, started, started, 3600);
  ASSERT_EQ(p.due.size(), 1u);
  started = at("2026-12-01T03:00:01Z");
  p = plan_due(full, last, 0, started, started, 3600);
  EXPECT_TRUE(p.due.empty());
  ASSERT_EQ(p.skipped.size(), 1u);
  EXPECT_EQ(p.skipped[0].fire_s, at("2026-12-01T02:00:00Z"));
}

TEST(Scheduler, FiresWhileRunningAreNotMissed) {
  auto s = schedules_of(cfg());
  std::vector<Schedule> rep{s[5]};  // every 15 minutes
  int64_t started = at("2026-12-01T00:00:00Z");
  std::map<std::string, int64_t> last{{rep[0].key, at("2026-12-01T10:00:00Z")}};
  // The loop was late (a long job, a suspended VM): the newest fire runs, not "missed".
  auto p = plan_due(rep, last, 0, started, at("2026-12-01T10:31:00Z"), 60);
  ASSERT_EQ(p.due.size(), 1u);
  EXPECT_EQ(p.due[0].fire_s, at("2026-12-01T10:30:00Z"));
  EXPECT_FALSE(p.due[0].missed);
  EXPECT_EQ(p.next_s, at("2026-12-01T10:45:00Z"));
}

}  // namespace
}  // namespace sr::daemon

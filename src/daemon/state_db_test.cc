#include "daemon/state_db.h"

#include <gtest/gtest.h>

#include "testing/temp_dir.h"

namespace sr::daemon {
namespace {

TEST(StateDb, JobsSurviveReopeningAndUnfinishedOnesAreClosed) {
  sr::testing::TempDir dir;
  std::string path = dir / "state.db";
  int64_t id1, id2;
  {
    StateDb db(path);
    JobRecord j;
    j.source = "accounts";
    j.job = "backup";
    j.type = "full";
    j.state = "ok";
    j.start_ns = 1;
    j.end_ns = 2;
    id1 = db.add_job(j);
    j.state = "running";
    j.end_ns = 0;
    id2 = db.add_job(j);
    db.set_last_fire("backup/accounts/full#0", 1234);
  }
  StateDb db(path);
  EXPECT_EQ(db.close_unfinished(99), 1u);
  auto j2 = db.job(id2);
  ASSERT_TRUE(j2);
  EXPECT_EQ(j2->state, "failed");
  EXPECT_EQ(j2->end_ns, 99);
  EXPECT_NE(j2->error.find("daemon stopped"), std::string::npos);
  EXPECT_EQ(db.last_fire("backup/accounts/full#0").value_or(0), 1234);
  EXPECT_FALSE(db.last_fire("other"));
  auto jobs = db.jobs("", 10);
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].id, id2);  // newest first
  EXPECT_EQ(jobs[1].id, id1);
  EXPECT_TRUE(db.jobs("other", 10).empty());
  JobRecord next;
  next.job = "verify";
  EXPECT_GT(db.add_job(next), id2);  // ids continue across restarts
}

TEST(StateDb, AlertsRoundTrip) {
  StateDb db("");
  AlertRecord a;
  a.key = "backup_failed/accounts";
  a.rule = "backup_failed";
  a.source = "accounts";
  a.severity = "critical";
  a.summary = "it failed";
  a.state = "firing";
  a.since_ns = 10;
  db.save_alert(a);
  EXPECT_GT(a.id, 0);
  ASSERT_EQ(db.firing_alerts().size(), 1u);
  a.state = "resolved";
  a.resolved_ns = 20;
  db.save_alert(a);
  EXPECT_TRUE(db.firing_alerts().empty());
  EXPECT_EQ(db.alerts(15, 10).size(), 1u);
  EXPECT_TRUE(db.alerts(21, 10).empty());
}

}  // namespace
}  // namespace sr::daemon

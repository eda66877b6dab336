#include "daemon/alerts.h"

#include <gtest/gtest.h>

#include "base/time_util.h"

namespace sr::daemon {
namespace {

constexpr int64_t kNs = 1'000'000'000;
constexpr int64_t kHour = 3600 * kNs;

config::Config cfg() {
  return config::parse_config(
      "repositories: {primary: {url: /tmp/r}, dr: {url: /tmp/dr, replicate_from: primary}}\n"
      "sources:\n"
      "  etc:\n"
      "    type: files\n    kind: configuration\n    paths: [/etc]\n"
      "    schedules: [{cron: '30 2 * * *'}]\n"
      "    verify: {max_age: 25h}\n"
      "    rto: 1h\n"
      "  quiet: {type: files, kind: volume, paths: [/srv], alerts: {disabled: [backup_stale]}}\n"
      "notify:\n"
      "  hook: {webhook: {url: 'http://127.0.0.1:9/x'}}\n"
      "  pager: {command: 'true'}\n"
      "alerts:\n"
      "  repeat_every: 4h\n"
      "  routes:\n"
      "    - {severity: [critical], notify: [pager, hook]}\n"
      "    - {rules: [backup_stale], notify: [hook]}\n",
      "test.yaml");
}

BackupItem backup(const std::string& source, int64_t end_ns, uint64_t size,
                  std::optional<double> median = std::nullopt) {
  BackupItem b;
  b.id = source + std::to_string(end_ns);
  b.source = source;
  b.type = "files";
  b.start_ns = end_ns - kNs;
  b.end_ns = end_ns;
  b.size = size;
  b.size_median = median;
  return b;
}

std::vector<std::string> rules(const std::vector<AlertCondition>& v) {
  std::vector<std::string> out;
  for (const auto& c : v) out.push_back(c.rule + "/" + c.source + "/" + c.severity);
  return out;
}

TEST(AlertRules, BackupAgeBoundaryToTheSecond) {
  auto c = cfg();
  Snapshot snap;
  const int64_t now = parse_rfc3339("2026-12-01T12:00:00Z");
  snap.backups = {backup("etc", now - 25 * kHour, 100), backup("quiet", now - 90 * kHour, 1)};
  AlertInputs in{&snap, &c, {}, {}, now, now - 100 * kHour};
  EXPECT_TRUE(rules(evaluate_rules(in)).empty());  // exactly 25 h: fresh; quiet: disabled
  snap.backups[0].end_ns -= kNs;
  EXPECT_EQ(rules(evaluate_rules(in)), std::vector<std::string>{"backup_stale/etc/warning"});
}

TEST(AlertRules, FailedBackupSizeChangeRestoreTestsAndReplicationLag) {
  auto c = cfg();
  Snapshot snap;
  const int64_t now = parse_rfc3339("2026-12-01T12:00:00Z");
  snap.backups = {backup("etc", now - kHour, 151, 100.0)};  // +51 % against the median
  JobRecord failed;
  failed.source = "etc";
  failed.job = "backup";
  failed.state = "failed";
  failed.end_ns = now - 60 * kNs;
  failed.error = "command exited 1";
  snap.restore_tests = {{{"source", "etc"}, {"passed", false}, {"rto_seconds", 7200.0}}};
  RepositoryItem dr;
  dr.name = "dr";
  dr.replicate_from = "primary";
  dr.replication_lag_s = 3601;
  snap.repositories = {dr};
  AlertInputs in{&snap, &c, {failed}, {}, now, now - 100 * kHour};
  auto got = rules(evaluate_rules(in));
  std::vector<std::string> want{"backup_failed/etc/critical", "backup_size_changed/etc/warning",
                                "restore_test_failed/etc/critical", "rto_breach/etc/warning",
                                "replication_lag/repository:dr/warning"};
  EXPECT_EQ(got, want);
  snap.backups[0].size = 150;  // exactly +50 %: within
  dr.replication_lag_s = 3600;
  snap.repositories = {dr};
  snap.restore_tests = {{{"source", "etc"}, {"passed", true}, {"rto_seconds", 3600.0}}};
  failed.state = "ok";
  in.last_jobs = {failed};
  EXPECT_TRUE(rules(evaluate_rules(in)).empty());
}

// The rules that the tests above do not reach: rpo_breach (WAL and backup age), verify_failed
// (a WAL gap, a failed repository-wide verify job), stream_down, daemon_health; each fires and
// clears with its condition.
TEST(AlertRules, RpoVerifyStreamAndHealth) {
  auto c = config::parse_config(
      "repositories: {primary: {url: /tmp/r}}\n"
      "sources:\n"
      "  db: {type: postgres, kind: database, pg_data: /d, pg_conn: host=/tmp, rpo: 5m, stream: "
      "true}\n"
      "  etc: {type: files, kind: configuration, paths: [/etc], rpo: 1h}\n",
      "test.yaml");
  const int64_t now = parse_rfc3339("2026-12-01T12:00:00Z");
  Snapshot snap;
  snap.backups = {backup("db", now - kHour, 10), backup("etc", now - kHour - kNs, 10)};
  ops::SourceCheck chk;
  chk.source = "db";
  chk.backups = 1;
  chk.newest_wal_ns = now - 301 * kNs;
  chk.max_wal_lag_s = 300;
  chk.wal_fresh = false;
  chk.continuous = false;
  chk.problems = {"source db: WAL segment 000000010000000000000003 is missing (a gap)",
                  "source db: WAL segment 000000010000000000000004 is missing (a gap)"};
  snap.checks = {chk};
  RepositoryItem broken;
  broken.name = "primary";
  broken.error = "cannot list";
  snap.repositories = {broken};
  JobRecord verify;
  verify.job = "verify";
  verify.repository = "primary";
  verify.state = "failed";
  verify.error = "damage found";
  std::map<std::string, StreamState> streams{{"db", {false, now - 61 * kNs}}};
  AlertInputs in{&snap, &c, {verify}, streams, now, now - 100 * kHour};
  auto got = rules(evaluate_rules(in));
  std::vector<std::string> want{"rpo_breach/db/critical",
                                "verify_failed/db/warning",
                                "stream_down/db/critical",
                                "rpo_breach/etc/critical",
                                "verify_failed/repository:primary/critical",
                                "daemon_health/repository:primary/critical"};
  EXPECT_EQ(got, want);
  // The verify_failed summary names the first finding and counts the others.
  for (const auto& a : evaluate_rules(in)) {
    if (a.rule == "verify_failed" && a.source == "db") {
      EXPECT_NE(a.summary.find("and 1 more"), std::string::npos) << a.summary;
    }
  }
  // Each condition gone: nothing holds.
  snap.checks[0].wal_fresh = true;
  snap.checks[0].continuous = true;
  snap.checks[0].problems.clear();
  snap.backups[1].end_ns = now - 3600 * kNs;  // exactly the RPO
  snap.repositories[0].error.clear();
  in.last_jobs[0].state = "ok";
  in.streams["db"] = {true, 0};
  EXPECT_TRUE(rules(evaluate_rules(in)).empty());
  in.streams["db"] = {false, now - 60 * kNs};  // down for exactly a minute: not yet
  EXPECT_TRUE(rules(evaluate_rules(in)).empty());
}

TEST(AlertEngine, FiresOnceRepeatsResolvesAndRetriesUndelivered) {
  auto c = cfg();
  StateDb db("");
  std::vector<std::string> sent;
  bool up = false;
  AlertEngine engine(
      db,
      [&](const config::NotifierConfig& n, const nlohmann::json& m) {
        if (!up) return false;
        sent.push_back(n.name + ":" + m.value("event", "") + ":" + m.value("rule", ""));
        return true;
      },
      "host");
  std::vector<AlertCondition> holding{{"backup_failed", "etc", "critical", "it failed"}};
  int64_t t = 1000 * kHour;
  engine.reconcile(holding, c, t);  // notifiers down: recorded firing, not delivered
  EXPECT_TRUE(sent.empty());
  ASSERT_EQ(db.firing_alerts().size(), 1u);
  up = true;
  engine.reconcile(holding, c, t + kNs);
  EXPECT_EQ(sent,
            (std::vector<std::string>{"pager:firing:backup_failed", "hook:firing:backup_failed"}));
  sent.clear();
  engine.reconcile(holding, c, t + 2 * kHour);  // before repeat_every: nothing
  EXPECT_TRUE(sent.empty());
  engine.reconcile(holding, c, t + kNs + 4 * kHour);
  EXPECT_EQ(sent.size(), 2u);
  EXPECT_NE(sent[0].find(":repeat:"), std::string::npos);
  sent.clear();
  engine.reconcile({}, c, t + 5 * kHour);
  EXPECT_EQ(sent, (std::vector<std::string>{"pager:resolved:backup_failed",
                                            "hook:resolved:backup_failed"}));
  EXPECT_TRUE(db.firing_alerts().empty());
  sent.clear();
  engine.reconcile({}, c, t + 6 * kHour);  // resolved once
  EXPECT_TRUE(sent.empty());
  // A warning goes only where a route sends it: backup_stale → hook; others nowhere.
  engine.reconcile(
      {{"backup_stale", "etc", "warning", "old"}, {"rto_breach", "etc", "warning", "slow"}}, c,
      t + 7 * kHour);
  EXPECT_EQ(sent, (std::vector<std::string>{"hook:firing:backup_stale"}));
}

// One notifier keeps failing: the other hears the firing once, and the resolution; the failing
// one is tried once per pass, not once per message.
TEST(AlertEngine, AFailingNotifierDoesNotHoldBackTheOthers) {
  auto c = cfg();
  StateDb db("");
  std::vector<std::string> sent;
  int hook_tries = 0;
  AlertEngine engine(
      db,
      [&](const config::NotifierConfig& n, const nlohmann::json& m) {
        if (n.name == "hook") {
          ++hook_tries;
          return false;
        }
        sent.push_back(n.name + ":" + m.value("event", "") + ":" + m.value("source", ""));
        return true;
      },
      "host");
  int64_t t = 1000 * kHour;
  engine.reconcile(
      {{"backup_failed", "etc", "critical", "x"}, {"backup_failed", "quiet", "critical", "y"}}, c,
      t);
  EXPECT_EQ(sent, (std::vector<std::string>{"pager:firing:etc", "pager:firing:quiet"}));
  EXPECT_EQ(hook_tries, 1);
  sent.clear();
  engine.reconcile({{"backup_failed", "quiet", "critical", "y"}}, c, t + kNs);
  EXPECT_EQ(sent, (std::vector<std::string>{"pager:resolved:etc"}));  // no second firing
}

}  // namespace
}  // namespace sr::daemon

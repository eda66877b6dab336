#include "catalog/retention.h"

#include <gtest/gtest.h>

#include <map>

#include "base/time_util.h"

namespace sr::catalog {
namespace {

constexpr int64_t kS = 1'000'000'000;
const int64_t kNow = parse_rfc3339("2026-12-01T12:00:00Z");

std::string id_of(int n) {
  char buf[33];
  std::snprintf(buf, sizeof buf, "%032x", n);
  return buf;
}

BackupRecord files(int n, int64_t start_ns, std::vector<std::string> tags = {}) {
  BackupRecord r;
  r.id = id_of(n);
  r.kind = BackupKind::kFiles;
  r.start_ns = r.end_ns = start_ns;
  r.tags = std::move(tags);
  return r;
}

BackupRecord pg(int n, int64_t start_ns, PgBackupType type, int parent, uint64_t segno) {
  BackupRecord r;
  r.id = id_of(n);
  r.kind = BackupKind::kPostgres;
  r.start_ns = start_ns;
  r.end_ns = start_ns + 60 * kS;
  if (parent) r.parent = id_of(parent);
  PgBackupInfo p;
  p.stanza = "main";
  p.type = type;
  p.start_time_ns = start_ns;
  p.stop_time_ns = start_ns + 60 * kS;
  p.start_wal = pg::SegmentName{1, segno}.str();
  p.stop_wal = pg::SegmentName{1, segno + 1}.str();
  r.pg = p;
  return r;
}

std::map<std::string, RetentionDecision> decide(const std::vector<BackupRecord>& b,
                                                const config::RetentionRule& rule,
                                                std::set<std::string> held = {}) {
  std::map<std::string, RetentionDecision> out;
  for (auto& d : apply_retention(b, rule, kNow, held)) out[d.id] = d;
  return out;
}

std::string reasons(const RetentionDecision& d) {
  std::string s;
  for (const auto& r : d.reasons) s += r + "; ";
  return s;
}

TEST(Retention, KeepWithinIsExactToTheSecond) {
  config::RetentionRule rule;
  rule.keep_within = 90 * 86400;
  const int64_t edge = kNow - 90 * 86400 * kS;
  auto d = decide({files(1, edge - kS), files(2, edge), files(3, edge + kS)}, rule);
  EXPECT_FALSE(d[id_of(1)].keep) << reasons(d[id_of(1)]);
  EXPECT_NE(reasons(d[id_of(1)]).find("older than 90d"), std::string::npos);
  EXPECT_TRUE(d[id_of(2)].keep);
  EXPECT_TRUE(d[id_of(3)].keep);
  EXPECT_EQ(d[id_of(3)].reasons[0], "within 90d");
}

TEST(Retention, NoRuleKeepsEverything) {
  auto d = decide({files(1, kNow - 1000 * 86400 * kS)}, config::RetentionRule{});
  EXPECT_TRUE(d[id_of(1)].keep);
  EXPECT_EQ(d[id_of(1)].reasons[0], "no retention rule");
}

TEST(Retention, KeepLastTagsAndHolds) {
  config::RetentionRule rule;
  rule.keep_last = 2;
  rule.keep_tags = {"quarterly"};
  std::vector<BackupRecord> b;
  for (int i = 1; i <= 6; ++i) b.push_back(files(i, kNow - (10 - i) * 3600 * kS));
  b[0].tags = {"quarterly"};
  auto d = decide(b, rule, {id_of(2)});
  EXPECT_TRUE(d[id_of(6)].keep);
  EXPECT_TRUE(d[id_of(5)].keep);
  EXPECT_EQ(d[id_of(5)].reasons[0], "last 2/2");
  EXPECT_FALSE(d[id_of(4)].keep);
  EXPECT_FALSE(d[id_of(3)].keep);
  EXPECT_TRUE(d[id_of(2)].keep);
  EXPECT_EQ(d[id_of(2)].reasons[0], "hold");
  EXPECT_TRUE(d[id_of(1)].keep);
  EXPECT_EQ(d[id_of(1)].reasons[0], "tag quarterly");
  // Newest first.
  auto v = apply_retention(b, rule, kNow, {});
  EXPECT_EQ(v.front().id, id_of(6));
  EXPECT_EQ(v.back().id, id_of(1));
}

TEST(Retention, CalendarBucketsKeepTheNewestOfEach) {
  config::RetentionRule rule;
  rule.keep_daily = 3;
  rule.keep_monthly = 2;
  std::vector<BackupRecord> b;
  // Two backups a day for 40 days, at 01:00 and 13:00 UTC.
  int n = 0;
  for (int day = 0; day < 40; ++day)
    for (int h : {1, 13})
      b.push_back(
          files(++n, parse_rfc3339("2026-10-23T00:00:00Z") + (day * 86400 + h * 3600) * kS));
  auto d = decide(b, rule);
  std::vector<std::string> kept;
  for (const auto& r : apply_retention(b, rule, kNow, {}))
    if (r.keep) {
      for (const auto& x : b)
        if (x.id == r.id) kept.push_back(format_rfc3339(x.start_ns) + " " + r.reasons[0]);
    }
  // Days: Dec 1 13:00 (newest of its day), Nov 30 13:00, Nov 29 13:00; months: Dec (the same
  // backup as the newest day), Nov 30 13:00 again. So three backups.
  ASSERT_EQ(kept.size(), 3u) << ::testing::PrintToString(kept);
  EXPECT_EQ(kept[0], "2026-12-01T13:00:00Z daily 1/3");
  EXPECT_EQ(kept[1], "2026-11-30T13:00:00Z daily 2/3");
  EXPECT_EQ(kept[2], "2026-11-29T13:00:00Z daily 3/3");
  rule.keep_monthly = 3;  // now October's newest counts too
  size_t count = 0;
  for (const auto& r : apply_retention(b, rule, kNow, {})) count += r.keep;
  EXPECT_EQ(count, 4u);
}

TEST(Retention, AKeptIncrementalKeepsItsChain) {
  config::RetentionRule rule;
  rule.keep_last = 1;
  // full(1) <- diff(2) <- incr(3) <- incr(4); an older full(0) with nothing on it.
  std::vector<BackupRecord> b = {pg(10, kNow - 100 * 3600 * kS, PgBackupType::kFull, 0, 0x10),
                                 pg(1, kNow - 50 * 3600 * kS, PgBackupType::kFull, 0, 0x20),
                                 pg(2, kNow - 40 * 3600 * kS, PgBackupType::kDiff, 1, 0x30),
                                 pg(3, kNow - 30 * 3600 * kS, PgBackupType::kIncr, 2, 0x40),
                                 pg(4, kNow - 20 * 3600 * kS, PgBackupType::kIncr, 3, 0x50)};
  auto d = decide(b, rule);
  EXPECT_TRUE(d[id_of(4)].keep);
  EXPECT_TRUE(d[id_of(3)].keep) << reasons(d[id_of(3)]);
  EXPECT_TRUE(d[id_of(2)].keep);
  EXPECT_TRUE(d[id_of(1)].keep);
  EXPECT_NE(reasons(d[id_of(1)]).find("needed by 00000000 (its full)"), std::string::npos)
      << reasons(d[id_of(1)]);
  EXPECT_FALSE(d[id_of(10)].keep);
  std::vector<const BackupRecord*> kept;
  for (const auto& x : b)
    if (d[x.id].keep) kept.push_back(&x);
  EXPECT_EQ(oldest_wal_needed(kept), pg::SegmentName({1, 0x20}).str());
}

TEST(Retention, PitrWindowKeepsTheNewestFullBeforeItsStart) {
  config::RetentionRule rule;
  rule.pitr_window = 35 * 86400;
  const int64_t start = kNow - 35 * 86400 * kS;
  // Fulls ending 1 s before, exactly at, and 1 s after the window's start (they run 60 s).
  std::vector<BackupRecord> b = {pg(1, start - 61 * kS, PgBackupType::kFull, 0, 1),
                                 pg(2, start - 60 * kS, PgBackupType::kFull, 0, 2),
                                 pg(3, start - 59 * kS, PgBackupType::kFull, 0, 3),
                                 pg(4, kNow - 3600 * kS, PgBackupType::kIncr, 3, 4)};
  auto d = decide(b, rule);
  EXPECT_FALSE(d[id_of(1)].keep) << reasons(d[id_of(1)]);
  EXPECT_TRUE(d[id_of(2)].keep);
  EXPECT_NE(reasons(d[id_of(2)]).find("PITR window 35d"), std::string::npos);
  EXPECT_FALSE(d[id_of(3)].keep) << reasons(d[id_of(3)]);  // after the start: not the base
  EXPECT_FALSE(d[id_of(4)].keep);
  // Only fulls inside the window: the oldest one is the base.
  std::vector<BackupRecord> young = {pg(5, kNow - 86400 * kS, PgBackupType::kFull, 0, 5),
                                     pg(6, kNow - 3600 * kS, PgBackupType::kFull, 0, 6)};
  auto y = decide(young, rule);
  EXPECT_TRUE(y[id_of(5)].keep);
  EXPECT_FALSE(y[id_of(6)].keep);
}

TEST(Retention, ADamagedChainKeepsTheBackupAndSaysSo) {
  config::RetentionRule rule;
  rule.keep_last = 1;
  auto d = decide({pg(4, kNow - 3600 * kS, PgBackupType::kIncr, 99, 4)}, rule);
  EXPECT_TRUE(d[id_of(4)].keep);
  EXPECT_NE(reasons(d[id_of(4)]).find("its chain is damaged"), std::string::npos);
}

TEST(Retention, UnparsableStartWalMeansNoWalIsKnownUnneeded) {
  auto a = pg(1, kNow, PgBackupType::kFull, 0, 7);
  auto b = pg(2, kNow, PgBackupType::kFull, 0, 9);
  b.pg->start_wal = "garbage";
  EXPECT_EQ(oldest_wal_needed({&a}), pg::SegmentName({1, 7}).str());
  EXPECT_EQ(oldest_wal_needed({&a, &b}), std::nullopt);
  EXPECT_EQ(oldest_wal_needed({}), std::nullopt);
}

}  // namespace
}  // namespace sr::catalog

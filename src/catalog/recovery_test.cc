#include "catalog/recovery.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "base/time_util.h"

namespace sr::catalog {
namespace {

constexpr uint64_t kSeg = 16ull << 20;
constexpr int64_t kT0 = 1767225600ll * 1000000000ll;  // 2026-01-01T00:00:00Z
constexpr int64_t kMinute = 60ll * 1000000000ll;

// A PostgreSQL backup record: WAL from segment `start_seg` to `stop_seg` (LSNs inside them),
// ended at kT0 + `minute` minutes.
BackupRecord pgb(const std::string& id, const std::string& stanza, uint64_t start_seg,
                 uint64_t stop_seg, int minute, pg::TimelineId tli = 1,
                 PgBackupType type = PgBackupType::kFull, const std::string& parent = "") {
  BackupRecord b;
  b.id = id + std::string(32 - id.size(), '0');
  b.kind = BackupKind::kPostgres;
  b.parent = parent.empty() ? "" : parent + std::string(32 - parent.size(), '0');
  PgBackupInfo p;
  p.stanza = stanza;
  p.type = type;
  p.timeline = tli;
  p.segment_size = kSeg;
  p.start_lsn = pg::Lsn{start_seg * kSeg + 0x28};
  p.stop_lsn = pg::Lsn{stop_seg * kSeg + 0x100};
  p.stop_time_ns = kT0 + minute * kMinute;
  p.start_time_ns = p.stop_time_ns - kMinute / 2;
  b.pg = p;
  return b;
}

// Three backups of "main" (ending at minutes 10, 20, 30; segments 2-3, 5-6, 8-9) and one of
// "other" (minute 15).
std::vector<BackupRecord> catalog3() {
  return {pgb("cc", "main", 8, 9, 30), pgb("aa", "main", 2, 3, 10), pgb("bb", "main", 5, 6, 20),
          pgb("dd", "other", 4, 4, 15)};
}

std::string chosen(const std::vector<BackupRecord>& backups, const std::string& kind,
                   const std::string& value, std::optional<pg::Lsn> mark = std::nullopt,
                   const std::string& stanza = "main") {
  RecoveryTarget t = parse_recovery_target(kind, value);
  t.mark_lsn = mark;
  return choose_backup(backups, stanza, t).id.substr(0, 2);
}

std::string error_of(const std::function<void()>& f, Errc want) {
  try {
    f();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), want) << e.what();
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

std::string at_minute(int m) { return format_rfc3339(kT0 + m * kMinute); }

TEST(ChooseBackup, LatestAndImmediateTakeTheNewest) {
  EXPECT_EQ(chosen(catalog3(), "", ""), "cc");
  EXPECT_EQ(chosen(catalog3(), "immediate", ""), "cc");
  EXPECT_EQ(chosen(catalog3(), "", "", std::nullopt, "other"), "dd");
}

TEST(ChooseBackup, TimeBetweenBackupsTakesTheOneBefore) {
  EXPECT_EQ(chosen(catalog3(), "time", at_minute(25)), "bb");
  EXPECT_EQ(chosen(catalog3(), "time", at_minute(20)), "bb");  // ended exactly at the target
  EXPECT_EQ(chosen(catalog3(), "time", at_minute(19)), "aa");
}

TEST(ChooseBackup, TimeAfterTheLastTakesTheLast) {
  EXPECT_EQ(chosen(catalog3(), "time", at_minute(600)), "cc");
}

TEST(ChooseBackup, TimeBeforeTheFirstIsRefusedWithItsEnd) {
  std::string msg =
      error_of([] { chosen(catalog3(), "time", "2025-12-31T23:00:00Z"); }, Errc::kNotFound);
  EXPECT_EQ(msg,
            "recovery target 2025-12-31T23:00:00Z is before the earliest backup of stanza "
            "'main', which ends at 2026-01-01T00:10:00Z");
}

TEST(ChooseBackup, LsnTargets) {
  EXPECT_EQ(chosen(catalog3(), "lsn", pg::Lsn{7 * kSeg}.str()), "bb");
  EXPECT_EQ(chosen(catalog3(), "lsn", pg::Lsn{6 * kSeg + 0x100}.str()), "bb");
  std::string msg = error_of([] { chosen(catalog3(), "lsn", "0/1000000"); }, Errc::kNotFound);
  EXPECT_EQ(msg,
            "recovery target 0/1000000 is before the earliest backup of stanza 'main', which "
            "ends at 0/3000100");
}

TEST(ChooseBackup, NoBackupsOfTheStanza) {
  std::string msg =
      error_of([] { chosen(catalog3(), "", "", std::nullopt, "nope"); }, Errc::kNotFound);
  EXPECT_EQ(msg, "stanza 'nope' has no PostgreSQL backups");
  // Files and command backups are no PostgreSQL backups.
  BackupRecord files;
  files.id = std::string(32, 'f');
  EXPECT_THROW(chosen({files}, "", ""), Error);
}

// Snapshots at the stops: aa xmax 100 (xip 95), bb xmax 200 (xip 150, 180), cc xmax 300.
std::vector<BackupRecord> xid_catalog() {
  auto c = catalog3();
  for (auto& b : c) {
    if (b.id[0] == 'a') b.pg->stop_xmax = 100, b.pg->stop_xip = {95};
    if (b.id[0] == 'b') b.pg->stop_xmax = 200, b.pg->stop_xip = {150, 180};
    if (b.id[0] == 'c') b.pg->stop_xmax = 300;
  }
  return c;
}

TEST(ChooseBackup, XidInABackupsSnapshot) {
  EXPECT_EQ(chosen(xid_catalog(), "xid", "180"), "bb");  // still running when bb stopped
  EXPECT_EQ(chosen(xid_catalog(), "xid", "190"), "aa");  // committed before bb stopped
  EXPECT_EQ(chosen(xid_catalog(), "xid", "250"), "bb");
  EXPECT_EQ(chosen(xid_catalog(), "xid", "95"), "aa");
}

TEST(ChooseBackup, XidAfterEveryBackupTakesTheNewest) {
  EXPECT_EQ(chosen(xid_catalog(), "xid", "5000"), "cc");
}

TEST(ChooseBackup, XidFinishedBeforeEveryBackupIsRefused) {
  std::string msg = error_of([] { chosen(xid_catalog(), "xid", "50"); }, Errc::kNotFound);
  EXPECT_EQ(msg,
            "transaction 50 finished before every backup of stanza 'main' ended; no backup can "
            "recover to it");
}

TEST(ChooseBackup, XidIsTakenInTheEpochOfTheSnapshot) {
  auto c = xid_catalog();
  const uint64_t epoch1 = 1ull << 32;
  for (auto& b : c) {
    *b.pg->stop_xmax += epoch1;
    for (auto& x : b.pg->stop_xip) x += epoch1;
  }
  EXPECT_EQ(chosen(c, "xid", "180"), "bb");  // 32-bit: epoch 1 from the snapshot
  EXPECT_EQ(chosen(c, "xid", std::to_string(epoch1 + 250)), "bb");
  // 50 in epoch 1 finished before every snapshot; 50 in epoch 2 had not started.
  error_of([&] { chosen(c, "xid", "50"); }, Errc::kNotFound);
  EXPECT_EQ(chosen(c, "xid", std::to_string(2 * epoch1 + 50)), "cc");
}

TEST(ChooseBackup, BackupsWithoutASnapshotAreSkippedForXids) {
  auto c = xid_catalog();
  for (auto& b : c)
    if (b.id[0] == 'c') b.pg->stop_xmax.reset();
  EXPECT_EQ(chosen(c, "xid", "5000"), "bb");
}

TEST(ChooseBackup, NamedPointWithoutAMarkTakesTheEarliest) {
  EXPECT_EQ(chosen(catalog3(), "name", "before-upgrade"), "aa");
}

TEST(ChooseBackup, NamedPointMarkedOnTwoClusters) {
  // One mark created on both clusters at once: different LSNs, one per stanza.
  auto c = catalog3();
  c.push_back(pgb("ee", "other", 20, 21, 40));
  EXPECT_EQ(chosen(c, "name", "release", pg::Lsn{7 * kSeg}), "bb");
  EXPECT_EQ(chosen(c, "name", "release", pg::Lsn{30 * kSeg}, "other"), "ee");
  EXPECT_EQ(chosen(c, "name", "release", pg::Lsn{10 * kSeg}, "other"), "dd");
  std::string msg =
      error_of([&] { chosen(c, "name", "release", pg::Lsn{kSeg}, "other"); }, Errc::kNotFound);
  EXPECT_EQ(msg,
            "recovery target release is before the earliest backup of stanza 'other', which ends "
            "at 0/4000100");
}

TEST(ChooseBackup, TargetOnALaterTimeline) {
  // After a promotion at minute 12 the cluster runs on timeline 2; a later backup is on it.
  auto c = catalog3();
  c = {c[1], pgb("t2", "main", 12, 13, 40, 2)};
  EXPECT_EQ(chosen(c, "time", at_minute(45)), "t2");
  EXPECT_EQ(chosen(c, "time", at_minute(30)), "aa");
}

TEST(ChooseBackup, GivenBackupMustBeOfTheStanzaAndEndBeforeTheTarget) {
  auto c = catalog3();
  EXPECT_EQ(find_pg_backup(c, "main", c[2].id).id, c[2].id);
  std::string msg = error_of([&] { find_pg_backup(c, "main", c[3].id); }, Errc::kUsage);
  EXPECT_EQ(msg, "backup " + c[3].id + " is not a PostgreSQL backup of stanza 'main'");
  msg = error_of(
      [&] { check_target_after_backup(c[2], parse_recovery_target("time", at_minute(19))); },
      Errc::kUsage);
  EXPECT_EQ(msg, "recovery target time is before backup bb000000 ended (2026-01-01T00:20:00Z)");
  msg =
      error_of([&] { check_target_after_backup(c[2], parse_recovery_target("lsn", "0/5000000")); },
               Errc::kUsage);
  EXPECT_EQ(msg, "recovery target LSN is before backup bb000000 ended (0/6000100)");
  check_target_after_backup(c[2], parse_recovery_target("lsn", "0/6000100"));
  check_target_after_backup(c[2], parse_recovery_target("xid", "1"));
}

TEST(RecoveryTarget, ValidatesTheUsersText) {
  EXPECT_EQ(error_of([] { parse_recovery_target("tomorrow", ""); }, Errc::kUsage),
            "unknown recovery target kind");
  for (const char* x : {"", "12a", "-1", "99999999999999999999"})
    EXPECT_EQ(error_of([&] { parse_recovery_target("xid", x); }, Errc::kUsage),
              "--target-xid needs a transaction id (digits)");
  EXPECT_EQ(parse_recovery_target("xid", "18446744073709551615").xid, UINT64_MAX);
  EXPECT_EQ(error_of([] { parse_recovery_target("name", ""); }, Errc::kUsage),
            "--target-name needs a restore point name");
  error_of([] { parse_recovery_target("lsn", "16/XYZ"); }, Errc::kUsage);
  error_of([] { parse_recovery_target("time", "yesterday"); }, Errc::kUsage);
  EXPECT_EQ(parse_recovery_target("time", "2026-01-01 00:10:00+00").time_ns, kT0 + 10 * kMinute);
  EXPECT_EQ(target_kind_name(parse_recovery_target("immediate", "").kind), "immediate");
}

// WAL of timeline `tli`, segments [first, last].
void add_wal(WalArchive& a, pg::TimelineId tli, uint64_t first, uint64_t last) {
  for (uint64_t s = first; s <= last; ++s) a.segments[tli].insert(s);
}

TEST(WalChain, ContinuousOnOneTimeline) {
  WalArchive a;
  add_wal(a, 1, 1, 12);
  auto cov = check_wal_chain(a, catalog3()[2], std::nullopt);  // bb starts in segment 5
  EXPECT_EQ(cov.covered.value, 13 * kSeg);
  EXPECT_EQ(cov.final_timeline, 1u);
  cov = check_wal_chain(a, catalog3()[2], pg::Lsn{9 * kSeg + 5});
  EXPECT_EQ(cov.covered.value, 10 * kSeg);
}

TEST(WalChain, AGapIsNamed) {
  WalArchive a;
  add_wal(a, 1, 1, 6);
  add_wal(a, 1, 8, 12);
  std::string msg =
      error_of([&] { check_wal_chain(a, catalog3()[2], std::nullopt); }, Errc::kNotFound);
  EXPECT_EQ(msg,
            "WAL segment 000000010000000000000007 is missing from the repository: backup "
            "bb000000 needs the WAL from 0/5000028 onwards (a gap in archiving?)");
  // A target before the gap needs nothing after it.
  EXPECT_EQ(check_wal_chain(a, catalog3()[2], pg::Lsn{6 * kSeg + 1}).covered.value, 7 * kSeg);
  // A target past the archive names the first segment it lacks.
  msg = error_of([&] { check_wal_chain(a, catalog3()[0], pg::Lsn{14 * kSeg}); }, Errc::kNotFound);
  EXPECT_NE(msg.find("WAL segment 00000001000000000000000D is missing"), std::string::npos);
  EXPECT_NE(msg.find("from 0/8000028 to 0/E000000"), std::string::npos) << msg;
}

TEST(WalChain, StreamedPartialSegmentsCount) {
  WalArchive a;
  add_wal(a, 1, 5, 9);
  a.add_segment_name("00000001000000000000000A", kSeg, true);
  a.add_segment_name("00000001000000000000000B.partial", kSeg, true);  // not a segment name
  EXPECT_EQ(check_wal_chain(a, catalog3()[2], std::nullopt).covered.value, 11 * kSeg);
}

// Timeline 2 branched off timeline 1 in segment 7 (0/7000100); timeline 3 off 2 in segment 10.
WalArchive branched_archive() {
  WalArchive a;
  add_wal(a, 1, 1, 6);  // segment 7 of timeline 1 was never archived (promotion)
  add_wal(a, 2, 7, 10);
  add_wal(a, 3, 10, 11);
  a.histories[2] = pg::TimelineHistory::parse(2, "1\t0/7000100\tno recovery target specified\n");
  a.histories[3] = pg::TimelineHistory::parse(3, "1\t0/7000100\tx\n2\t0/A000200\ty\n");
  // An unrelated timeline branched off timeline 5.
  a.histories[6] = pg::TimelineHistory::parse(6, "5\t0/20000000\tz\n");
  return a;
}

TEST(WalChain, TimelinePathFollowsTheNewestDescendant) {
  auto a = branched_archive();
  auto path = timeline_path(a, 1);
  ASSERT_EQ(path.size(), 3u);
  EXPECT_EQ(path[0].timeline, 1u);
  EXPECT_EQ(path[0].end->value, 0x7000100u);
  EXPECT_EQ(path[1].timeline, 2u);
  EXPECT_EQ(path[2].timeline, 3u);
  EXPECT_FALSE(path[2].end);
  path = timeline_path(a, 2);
  ASSERT_EQ(path.size(), 2u);
  EXPECT_EQ(path[0].end->value, 0xA000200u);
  EXPECT_EQ(timeline_path(a, 3).size(), 1u);
  EXPECT_EQ(timeline_path(a, 4).size(), 1u);
}

TEST(ChooseBackup, OnlyBackupsOnTheNewestTimelinesHistory) {
  // Timeline 1 forked into timeline 2 at 0/7000100 and 2 into 3 at 0/A000200 (branched_archive).
  auto a = branched_archive();
  std::vector<BackupRecord> c = {
      pgb("aa", "main", 2, 3, 10),      // TL1, before the fork
      pgb("bb", "main", 8, 9, 20),      // TL1, after the fork
      pgb("cc", "main", 8, 9, 25, 2),   // TL2, before its fork
      pgb("dd", "main", 11, 11, 28, 2)  // TL2, after its fork
  };
  EXPECT_TRUE(on_newest_history(a, c[0]));
  EXPECT_FALSE(on_newest_history(a, c[1]));  // replay cannot switch to TL2 from past the fork
  EXPECT_TRUE(on_newest_history(a, c[2]));
  EXPECT_FALSE(on_newest_history(a, c[3]));
  RecoveryTarget latest = parse_recovery_target("", "");
  EXPECT_EQ(choose_backup(c, "main", latest, &a).id.substr(0, 2), "cc");
  EXPECT_EQ(choose_backup(c, "main", latest).id.substr(0, 2), "dd");  // without the archive
  RecoveryTarget t = parse_recovery_target("time", at_minute(22));
  EXPECT_EQ(choose_backup(c, "main", t, &a).id.substr(0, 2), "aa");  // bb is on a dead end
  // A backup on the newest timeline is always on its history; one on an unrelated branch
  // (timeline 6 forked from 5; from 4 no history leads on) follows its own newest timeline.
  EXPECT_EQ(newest_timeline(a, 1), 3u);
  EXPECT_EQ(newest_timeline(a, 4), 4u);
  EXPECT_EQ(newest_timeline(a, 5), 6u);
  EXPECT_TRUE(on_newest_history(a, pgb("ee", "main", 11, 11, 30, 3)));
  // Nothing usable: the error says why.
  std::vector<BackupRecord> dead = {c[1], c[3]};
  auto msg = error_of([&] { choose_backup(dead, "main", latest, &a); }, Errc::kNotFound);
  EXPECT_NE(msg.find("history of the newest timeline"), std::string::npos) << msg;
}

TEST(WalChain, ThroughTimelineSwitchpoints) {
  auto a = branched_archive();
  // The switchpoint segments (7 on timeline 1, 10 on timeline 2) exist under the child's name.
  auto cov = check_wal_chain(a, catalog3()[2], std::nullopt);
  EXPECT_EQ(cov.final_timeline, 3u);
  EXPECT_EQ(cov.covered.value, 12 * kSeg);
}

TEST(WalChain, MissingSegmentOnTheNewTimelineIsNamed) {
  auto a = branched_archive();
  a.segments[2].erase(8);
  std::string msg =
      error_of([&] { check_wal_chain(a, catalog3()[2], std::nullopt); }, Errc::kNotFound);
  EXPECT_NE(msg.find("WAL segment 000000020000000000000008 is missing"), std::string::npos);
}

TEST(WalChain, UnusableSegmentSize) {
  auto b = catalog3()[0];
  b.pg->segment_size = 0;
  error_of([&] { check_wal_chain(WalArchive{}, b, std::nullopt); }, Errc::kCorrupt);
  error_of([&] { wal_needed(*b.pg); }, Errc::kCorrupt);
}

TEST(WalNeeded, FromStartToTheSegmentOfTheLastByte) {
  auto b = catalog3()[1];  // aa: 0/2000028 to 0/3000100
  WalRange r = wal_needed(*b.pg);
  EXPECT_EQ(r.names(),
            (std::vector<std::string>{"000000010000000000000002", "000000010000000000000003"}));
  b.pg->stop_lsn = pg::Lsn{4 * kSeg};  // stop exactly at a boundary: segment 3 holds the end
  EXPECT_EQ(wal_needed(*b.pg).last, 3u);
  b.pg->timeline = 2;
  b.pg->stop_lsn = b.pg->start_lsn;
  EXPECT_EQ(wal_needed(*b.pg).names(), (std::vector<std::string>{"000000020000000000000002"}));
}

TEST(BackupChain, IncrToDiffToFull) {
  std::vector<BackupRecord> c = {pgb("f1", "main", 1, 2, 1),
                                 pgb("d1", "main", 3, 4, 2, 1, PgBackupType::kDiff, "f1"),
                                 pgb("i1", "main", 5, 6, 3, 1, PgBackupType::kIncr, "d1"),
                                 pgb("i2", "main", 7, 8, 4, 1, PgBackupType::kIncr, "i1")};
  auto chain = backup_chain(c, c[3].id);
  ASSERT_EQ(chain.size(), 4u);
  EXPECT_EQ(chain[0]->id, c[3].id);
  EXPECT_EQ(chain[3]->id, c[0].id);
  EXPECT_EQ(backup_chain(c, c[0].id).size(), 1u);
}

TEST(BackupChain, BrokenChains) {
  std::vector<BackupRecord> c = {pgb("i1", "main", 5, 6, 3, 1, PgBackupType::kIncr, "d1"),
                                 pgb("d2", "main", 3, 4, 2, 1, PgBackupType::kDiff)};
  std::string msg = error_of([&] { backup_chain(c, c[0].id); }, Errc::kNotFound);
  EXPECT_EQ(msg,
            "backup i1000000 was taken against backup d1000000, which is missing: the chain of "
            "backup i1000000 to its full backup is broken");
  msg = error_of([&] { backup_chain(c, c[1].id); }, Errc::kCorrupt);
  EXPECT_NE(msg.find("diff backup without a parent"), std::string::npos);
  // A cycle.
  c = {pgb("i1", "main", 5, 6, 3, 1, PgBackupType::kIncr, "i2"),
       pgb("i2", "main", 7, 8, 4, 1, PgBackupType::kIncr, "i1")};
  error_of([&] { backup_chain(c, c[0].id); }, Errc::kCorrupt);
  error_of([&] { backup_chain(c, std::string(32, 'e')); }, Errc::kNotFound);
}

TEST(ParentFor, DiffTakesTheNewestFullIncrTheNewestOfAny) {
  std::vector<BackupRecord> c = {pgb("f1", "main", 1, 2, 1), pgb("f2", "main", 3, 4, 2),
                                 pgb("d1", "main", 5, 6, 3, 1, PgBackupType::kDiff, "f2"),
                                 pgb("f9", "other", 7, 8, 9)};
  for (size_t i = 0; i < c.size(); ++i) c[i].start_ns = static_cast<int64_t>(i + 1);
  EXPECT_EQ(parent_for(c, "main", PgBackupType::kFull), nullptr);
  EXPECT_EQ(parent_for(c, "main", PgBackupType::kDiff)->id, c[1].id);
  EXPECT_EQ(parent_for(c, "main", PgBackupType::kIncr)->id, c[2].id);
  EXPECT_EQ(error_of([&] { parent_for(c, "new", PgBackupType::kIncr); }, Errc::kNotFound),
            "a incr backup needs an earlier full backup of stanza 'new'; take a full backup first");
}

}  // namespace
}  // namespace sr::catalog

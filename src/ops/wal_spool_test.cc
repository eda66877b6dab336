#include "ops/wal_spool.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/random.h"
#include "repo/wal_store.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

const std::string kSeg1 = "000000010000000000000001";
const std::string kSeg2 = "000000010000000000000002";
const std::string kSeg3 = "000000010000000000000003";
const std::string kSeg4 = "000000010000000000000004";

TEST(WalSpool, NextPushesAreTheSpoolThenReadySegmentsOldestFirst) {
  spool::Scan s;
  s.spooled = {kSeg1, kSeg3};  // a backlog from while the repository was away
  s.ready = {kSeg2, kSeg3, kSeg4, "00000002.history"};
  s.done = {kSeg4};                  // pushed ahead already
  s.refused = {"00000002.history"};  // left to archive_command
  using V = std::vector<std::pair<std::string, bool>>;
  EXPECT_EQ(spool::next_pushes(s), (V{{kSeg1, true}, {kSeg3, true}, {kSeg2, false}}));
  EXPECT_TRUE(spool::next_pushes(spool::Scan{}).empty());
}

TEST(WalSpool, MarkersOfArchivedSegmentsAreSpent) {
  EXPECT_EQ(spool::spent_markers({kSeg1, kSeg2, kSeg3}, {kSeg2, kSeg4}),
            (std::vector<std::string>{kSeg1, kSeg3}));
  EXPECT_TRUE(spool::spent_markers({}, {kSeg1}).empty());
}

TEST(WalSpool, AsyncPushResultJson) {
  EXPECT_EQ((AsyncPushResult{"/p/x", AsyncPush::kPushedAhead}.to_json()),
            (nlohmann::json{{"file", "/p/x"}, {"result", "pushed ahead"}}));
  EXPECT_EQ((AsyncPushResult{"/p/x", AsyncPush::kPushed}.to_json()["result"]), "pushed");
  EXPECT_EQ((AsyncPushResult{"/p/x", AsyncPush::kSpooled}.to_json()["result"]), "spooled");
}

class WalSpoolTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sr::testing::init_test_repository(dir_);
    mkdirs(dir_ / "pg_wal/archive_status");
    spool_ = dir_ / "spool";
  }
  std::unique_ptr<repo::Repository> open() { return sr::testing::open_test_repository(dir_); }
  // A WAL file in pg_wal, marked .ready.
  std::string wal_file(const std::string& name, size_t size = 8192) {
    Bytes data = random_bytes(size);
    data[2] &= ~0x02;  // no long page header: no system identifier to check against the stanza
    write_file_atomic(dir_ / ("pg_wal/" + name), data);
    write_file_atomic(dir_ / ("pg_wal/archive_status/" + name + ".ready"), {});
    return dir_ / ("pg_wal/" + name);
  }
  sr::testing::TempDir dir_;
  std::string spool_;
  std::vector<std::string> lines_;
  std::unique_ptr<log::Logger> logger_ =
      log::make_callback_logger(log::Format::kText, log::Level::kWarn,
                                [this](std::string_view line) { lines_.emplace_back(line); });
};

TEST_F(WalSpoolTest, ScanSeesSourceReadySpoolAndMarkers) {
  std::string p = wal_file(kSeg2);
  wal_file(kSeg1);
  note_wal_source(spool_, p);
  spool_wal(spool_, wal_file(kSeg3));
  mkdirs(spool_ + "/done");
  mkdirs(spool_ + "/refused");
  write_file_atomic(spool_ + "/done/" + kSeg1, {});
  write_file_atomic(spool_ + "/refused/" + kSeg2, {});
  spool::Scan s = spool::scan(spool_);
  EXPECT_EQ(s.source, dir_ / "pg_wal");
  EXPECT_EQ(s.ready, (std::vector<std::string>{kSeg1, kSeg2, kSeg3}));
  EXPECT_EQ(s.spooled, (std::vector<std::string>{kSeg3}));
  EXPECT_EQ(s.done, (std::set<std::string>{kSeg1}));
  EXPECT_EQ(s.refused, (std::set<std::string>{kSeg2}));
  EXPECT_EQ(spooled_count(spool_), 1u);
}

TEST_F(WalSpoolTest, ASegmentPushedAheadReturnsWithoutOpeningTheRepository) {
  std::string p = wal_file(kSeg1);
  mkdirs(spool_ + "/done");
  write_file_atomic(spool_ + "/done/" + kSeg1, {});
  auto r =
      async_push([]() -> std::unique_ptr<repo::Repository> { throw std::logic_error("opened"); },
                 {"main", spool_, p}, {});
  EXPECT_EQ(r.how, AsyncPush::kPushedAhead);
  EXPECT_EQ(r.file, p);
}

TEST_F(WalSpoolTest, AnUnreachableRepositorySpoolsTheSegmentAndLogsAWarning) {
  std::string p = wal_file(kSeg1);
  auto r = async_push(
      []() -> std::unique_ptr<repo::Repository> {
        throw Error(Errc::kTransient, "connection refused");
      },
      {"main", spool_, p}, {nullptr, nullptr, logger_.get()});
  EXPECT_EQ(r.how, AsyncPush::kSpooled);
  EXPECT_EQ(read_file(spool_ + "/" + kSeg1), read_file(p));
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_NE(lines_[0].find("wal-push: the repository cannot take " + kSeg1 +
                           " now (connection refused); spooled, the pusher retries"),
            std::string::npos)
      << lines_[0];
}

TEST_F(WalSpoolTest, ThePusherPushesTheSpoolAndReadySegmentsAndMarksThemDone) {
  std::string p1 = wal_file(kSeg1), p2 = wal_file(kSeg2);
  note_wal_source(spool_, p1);
  spool_wal(spool_, p1);  // kSeg1 waits in the spool, kSeg2 only in pg_wal
  PusherOptions o{"main", spool_, 0.2};
  EXPECT_TRUE(run_pusher([this] { return open(); }, o, {nullptr, nullptr, logger_.get()}));
  EXPECT_EQ(spooled_count(spool_), 0u);
  EXPECT_TRUE(path_exists(spool_ + "/done/" + kSeg2));  // pushed ahead of archive_command
  auto repo = open();
  repo::WalStore store(*repo, "main");
  EXPECT_EQ(store.get(kSeg1), read_file(p1));
  EXPECT_EQ(store.get(kSeg2), read_file(p2));
  EXPECT_TRUE(lines_.empty()) << lines_[0];
  // Once PostgreSQL has archived it (no longer .ready), its marker is spent.
  ::unlink((dir_ / ("pg_wal/archive_status/" + kSeg2 + ".ready")).c_str());
  EXPECT_TRUE(run_pusher([this] { return open(); }, {"main", spool_, 0.3}, {}));
  EXPECT_FALSE(path_exists(spool_ + "/done/" + kSeg2));
}

TEST_F(WalSpoolTest, ACancelledPusherStopsAndLeavesTheSpool) {
  std::string p = wal_file(kSeg1);
  spool_wal(spool_, p);
  CancelToken token;
  token.cancel();
  EXPECT_TRUE(
      run_pusher([this] { return open(); }, {"main", spool_, 60}, {&token, nullptr, nullptr}));
  EXPECT_EQ(spooled_count(spool_), 1u);
}

}  // namespace
}  // namespace sr::ops

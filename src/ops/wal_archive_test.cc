#include "ops/wal_archive.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/random.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

class WalArchiveTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sr::testing::init_test_repository(dir_);
    repo_ = sr::testing::open_test_repository(dir_);
    write_file_atomic(dir_ / "00000002.history", as_bytes("1\t0/3000000\tno recovery target\n"));
  }
  sr::testing::TempDir dir_;
  std::unique_ptr<repo::Repository> repo_;
};

TEST_F(WalArchiveTest, PushResultJsonHasTheCliKeys) {
  WalPushResult r = wal_push(*repo_, {"main", dir_ / "00000002.history", 0}, {});
  EXPECT_FALSE(r.already_stored);
  nlohmann::json expect = {
      {"file", dir_ / "00000002.history"}, {"bytes", 31u}, {"already_stored", false}};
  EXPECT_EQ(r.to_json(), expect);
  EXPECT_EQ(
      wal_push(*repo_, {"main", dir_ / "00000002.history", 0}, {}).to_json()["already_stored"],
      true);
}

// The segment read ahead is the next one of the same timeline, and only once PostgreSQL has
// marked it ready (pg_wal also holds recycled segments with old content under future names).
TEST_F(WalArchiveTest, NextReadySegmentIsTheNextOneMarkedReady) {
  const uint64_t seg = 16ull << 20;
  mkdirs(dir_ / "pg_wal/archive_status");
  const std::string cur = dir_ / "pg_wal/00000001000000000000000F";
  EXPECT_EQ(next_ready_segment(cur, seg), "");  // not ready yet
  write_file_atomic(dir_ / "pg_wal/archive_status/000000010000000000000010.ready", {});
  EXPECT_EQ(next_ready_segment(cur, seg), dir_ / "pg_wal/000000010000000000000010");
  // The segment number carries into the "log" part of the name at the segment size.
  write_file_atomic(dir_ / "pg_wal/archive_status/000000010000000100000000.ready", {});
  EXPECT_EQ(next_ready_segment(dir_ / "pg_wal/0000000100000000000000FF", seg),
            dir_ / "pg_wal/000000010000000100000000");
  EXPECT_EQ(next_ready_segment(dir_ / "pg_wal/00000002.history", seg), "");
  EXPECT_EQ(next_ready_segment(cur, 12345), "");  // not a segment size
}

TEST_F(WalArchiveTest, CancelledPushStoresNothing) {
  CancelToken token;
  token.cancel();
  try {
    wal_push(*repo_, {"main", dir_ / "00000002.history", 0}, {&token, nullptr, nullptr});
    FAIL() << "a cancelled push stored the file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled);
  }
  EXPECT_FALSE(repo::WalStore(*repo_, "main").exists("00000002.history"));
}

}  // namespace
}  // namespace sr::ops

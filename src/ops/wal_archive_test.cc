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

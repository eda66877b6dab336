#include "storage/local_storage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "base/fs.h"
#include "testing/temp_dir.h"

namespace sr::storage {
namespace {

unsigned mode_of(const std::string& path) {
  struct stat st;
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

// Permissions must not depend on a permissive umask being absent: set the usual 022 for the test.
class LocalStorageModeTest : public ::testing::Test {
 protected:
  void SetUp() override { old_ = ::umask(022); }
  void TearDown() override { ::umask(old_); }
  sr::testing::TempDir dir_;
  mode_t old_ = 0;
};

TEST_F(LocalStorageModeTest, ObjectsAre0600AndDirectories0700) {
  LocalStorage s(dir_ / "repo");
  s.create_if_missing();
  s.put("keys/aa", as_bytes(std::string("slot")), true);
  s.put("config", as_bytes(std::string("cfg")), false);
  EXPECT_EQ(mode_of(dir_ / "repo"), 0700u);
  EXPECT_EQ(mode_of(dir_ / "repo/keys"), 0700u);
  EXPECT_EQ(mode_of(dir_ / "repo/keys/aa"), 0600u);
  EXPECT_EQ(mode_of(dir_ / "repo/config"), 0600u);
}

TEST_F(LocalStorageModeTest, StagedFilesArePublishedPrivate) {
  LocalStorage s(dir_ / "repo");
  s.create_if_missing();
  std::string staged = s.staging_dir() + "/pack-x";
  {
    Fd fd = open_or_throw(staged, O_WRONLY | O_CREAT | O_EXCL, 0644);  // as a pack writer does
    write_all(fd.get(), as_bytes(std::string("pack")), staged);
  }
  s.put_file("data/ab/abcd", staged, true);
  EXPECT_EQ(mode_of(s.staging_dir()), 0700u);
  EXPECT_EQ(mode_of(dir_ / "repo/data"), 0700u);
  EXPECT_EQ(mode_of(dir_ / "repo/data/ab"), 0700u);
  EXPECT_EQ(mode_of(dir_ / "repo/data/ab/abcd"), 0600u);
}

TEST_F(LocalStorageModeTest, ExistingRootIsTightened) {
  ASSERT_EQ(::mkdir((dir_ / "repo").c_str(), 0755), 0);
  ASSERT_EQ(::chmod((dir_ / "repo").c_str(), 0755), 0);
  LocalStorage s(dir_ / "repo");
  s.create_if_missing();
  EXPECT_EQ(mode_of(dir_ / "repo"), 0700u);
}

TEST_F(LocalStorageModeTest, RootWritingIntoAnotherUsersRepositoryGivesNewFilesToThatUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  LocalStorage s(dir_ / "repo");
  s.create_if_missing();
  ASSERT_EQ(::chown((dir_ / "repo").c_str(), 65534, 65534), 0);
  s.put("wal/main/info", as_bytes(std::string("x")), true);
  struct stat st;
  for (const char* p : {"repo/wal", "repo/wal/main", "repo/wal/main/info"}) {
    ASSERT_EQ(::stat((dir_ / p).c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 65534u) << p;
  }
}

}  // namespace
}  // namespace sr::storage

// Write-only backup hosts (issue 10, item 13) at the operation level: with a writer key file a
// files backup works (also a second one that has a parent: it reads every file and stores
// nothing new, thanks to deduplication through the index); restore and verify --read-data fail
// with the write-only error; the operator's password restores what the writer stored.
#include <gtest/gtest.h>

#include <filesystem>

#include "base/fs.h"
#include "base/random.h"
#include "ops/backup.h"
#include "ops/keys.h"
#include "ops/restore.h"
#include "ops/verify.h"
#include "repo/keys_ring.h"
#include "storage/local_storage.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

class WriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sr::testing::init_test_repository(dir_);
    mkdirs(dir_ / "src/sub");
    for (int i = 0; i < 3; ++i)
      write_file_atomic(dir_ / ("src/sub/f" + std::to_string(i)), random_bytes(200000));
    auto operator_repo = sr::testing::open_test_repository(dir_);
    writer_text_ = operator_repo->writer_key_text();
  }
  std::unique_ptr<repo::Repository> open_writer() {
    return repo::Repository::open(std::make_unique<storage::LocalStorage>(dir_ / "repo"),
                                  repo::Credential{writer_text_, true},
                                  sr::testing::test_repo_options(dir_));
  }
  FilesBackupOptions options() {
    FilesBackupOptions o;
    o.paths = {dir_ / "src"};
    return o;
  }
  static Errc error_of(const std::function<void()>& f, std::string* what = nullptr) {
    try {
      f();
    } catch (const Error& e) {
      if (what) *what = e.what();
      return e.code();
    }
    return Errc::kInternal;
  }
  sr::testing::TempDir dir_;
  std::string writer_text_;
  OpContext ctx_;
};

TEST_F(WriterTest, BacksUpWithoutReadingTheParentAndCannotRestoreOrReadData) {
  auto w = open_writer();
  ASSERT_TRUE(w->write_only());
  BackupResult first = backup_files(*w, options(), ctx_);
  BackupResult second = backup_files(*w, options(), ctx_);
  EXPECT_EQ(second.manifest.parent, first.manifest.id);
  EXPECT_EQ(second.reused_files, 0u);                    // the parent's tree was not read
  EXPECT_EQ(second.manifest.added_size, 0u);             // … and nothing new was stored
  EXPECT_EQ(second.manifest.tree, first.manifest.tree);  // the same tree

  RestoreOptions ro;
  ro.target = dir_ / "restored-by-writer";
  std::string what;
  EXPECT_EQ(error_of([&] { restore_files(*w, second.manifest, ro, ctx_); }, &what), Errc::kAuth);
  EXPECT_NE(what.find("write-only key"), std::string::npos) << what;
  EXPECT_EQ(error_of([&] { verify(*w, VerifyOptions{true}, ctx_); }, &what), Errc::kAuth) << what;
  EXPECT_EQ(error_of([&] {
              add_key(*w, AddKeyOptions{"x", "", {1024, 8, 1}}, ctx_);
            }),
            Errc::kAuth);

  auto full = sr::testing::open_test_repository(dir_);
  ro.target = dir_ / "restored";
  restore_files(*full, full->load_manifest(second.manifest.id), ro, ctx_);
  for (int i = 0; i < 3; ++i) {
    std::string rel = "sub/f" + std::to_string(i);
    EXPECT_EQ(read_file(dir_ / ("restored/" + rel)), read_file(dir_ / ("src/" + rel))) << rel;
  }
  EXPECT_TRUE(verify(*full, VerifyOptions{true}, ctx_).problems.empty());
}

}  // namespace
}  // namespace sr::ops

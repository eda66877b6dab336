// Restore must never write outside its target, whatever a (crafted) tree says.
#include "ops/restore.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/fs.h"
#include "repo/tree_stream.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

using repo::Entry;
using repo::EntryKind;

class RestoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sr::testing::init_test_repository(dir_);
    repo_ = repo::Repository::open(dir_ / "repo", "pw");
    repo_->load_index();
    mkdirs(dir_ / "outside");
  }

  // Writes a manifest whose tree holds exactly `entries`, bypassing every check of the walker.
  repo::Manifest crafted(const std::vector<Entry>& entries) {
    repo::TreeWriter t(*repo_);
    for (const auto& e : entries) t.add(e);
    repo::Manifest m;
    m.type = "files";
    m.time_ns = m.end_time_ns = 1;
    m.tree = t.finish();
    repo_->flush();
    repo_->save_manifest(m);
    return m;
  }

  Entry file(const std::string& path, const std::string& content) {
    Entry e;
    e.kind = EntryKind::kFile;
    e.path = path;
    e.mode = 0644;
    e.size = content.size();
    auto s = repo_->store_chunk(repo::BlobType::kData, as_bytes(content));
    e.chunks.push_back(s.ref);
    return e;
  }

  bool outside_untouched() {
    return std::filesystem::is_empty(dir_ / "outside") && !path_exists(dir_ / "escaped");
  }

  sr::testing::TempDir dir_;
  std::unique_ptr<repo::Repository> repo_;
};

TEST_F(RestoreTest, RoundTripOfACraftedButValidTree) {
  Entry d;
  d.kind = EntryKind::kDir;
  d.path = "d";
  d.mode = 0750;
  auto m = crafted({d, file("d/f", "ledger")});
  restore_files(*repo_, m, {dir_ / "target", false}, {});
  EXPECT_EQ(as_chars(read_file(dir_ / "target/d/f")), "ledger");
  struct stat st;
  ASSERT_EQ(::stat((dir_ / "target/d").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0750u);
}

TEST_F(RestoreTest, DotDotPathIsRejected) {
  auto m = crafted({file("../escaped", "x")});
  EXPECT_THROW(restore_files(*repo_, m, {dir_ / "target", false}, {}), Error);
  EXPECT_TRUE(outside_untouched());
}

TEST_F(RestoreTest, AbsolutePathIsRejected) {
  auto m = crafted({file((dir_ / "escaped").substr(1), "x")});  // relative form is fine...
  std::vector<Entry> v = {file(dir_ / "escaped", "x")};         // ...an absolute one is not
  auto bad = crafted(v);
  EXPECT_THROW(restore_files(*repo_, bad, {dir_ / "target2", false}, {}), Error);
  EXPECT_TRUE(outside_untouched());
}

TEST_F(RestoreTest, SymlinkInThePathIsNotFollowed) {
  Entry link;
  link.kind = EntryKind::kSymlink;
  link.path = "a";
  link.link_target = dir_ / "outside";
  auto m = crafted({link, file("a/evil", "x")});
  EXPECT_THROW(restore_files(*repo_, m, {dir_ / "target", false}, {}), Error);
  EXPECT_TRUE(outside_untouched());
}

TEST_F(RestoreTest, PreexistingSymlinkInTargetIsNotFollowedWithForce) {
  mkdirs(dir_ / "target");
  ASSERT_EQ(::symlink((dir_ / "outside").c_str(), (dir_ / "target/a").c_str()), 0);
  Entry d;
  d.kind = EntryKind::kDir;
  d.path = "a";
  auto m = crafted({d, file("a/evil", "x")});
  try {
    restore_files(*repo_, m, {dir_ / "target", true}, {});
  } catch (const Error&) {
  }
  EXPECT_TRUE(outside_untouched());
}

TEST_F(RestoreTest, HardlinkToOutsideIsRejected) {
  Entry h;
  h.kind = EntryKind::kHardlink;
  h.path = "h";
  h.link_target = "../outside/x";
  auto m = crafted({h});
  EXPECT_THROW(restore_files(*repo_, m, {dir_ / "target", false}, {}), Error);
  EXPECT_TRUE(outside_untouched());
}

TEST_F(RestoreTest, NonEmptyTargetNeedsForce) {
  auto m = crafted({file("f", "new")});
  mkdirs(dir_ / "target");
  write_file_atomic(dir_ / "target/keep", as_bytes("old"));
  EXPECT_THROW(restore_files(*repo_, m, {dir_ / "target", false}, {}), Error);
  EXPECT_FALSE(path_exists(dir_ / "target/f"));
  restore_files(*repo_, m, {dir_ / "target", true}, {});
  EXPECT_EQ(as_chars(read_file(dir_ / "target/f")), "new");
}

TEST_F(RestoreTest, DeltaWritesOnlyWhatDiffersAndRemovesWhatTheBackupLacks) {
  Entry d;
  d.kind = EntryKind::kDir;
  d.path = "d";
  d.mode = 0755;
  std::string big(300000, 'x');
  auto m = crafted({d, file("d/changed", "new content"), file("d/same", big), file("f", "f")});
  mkdirs(dir_ / "target/d/extra_dir/deep");
  write_file_atomic(dir_ / "target/d/same", as_bytes(big));
  write_file_atomic(dir_ / "target/d/changed", as_bytes("old content, longer than the new"));
  write_file_atomic(dir_ / "target/d/extra_dir/deep/x", as_bytes("x"));
  write_file_atomic(dir_ / "target/stray", as_bytes("s"));
  mkdirs(dir_ / "target/f");  // a directory where the backup has a file
  // A symlink to outside: removed as a link, its target untouched.
  std::filesystem::create_directory_symlink(dir_ / "outside", dir_ / "target/d/link");
  write_file_atomic(dir_ / "outside/keep", as_bytes("k"));
  RestoreOptions o{dir_ / "target", false};
  o.delta = true;
  auto r = restore_files(*repo_, m, o, {});
  EXPECT_EQ(r.bytes_unchanged, big.size());
  // d/extra_dir, d/extra_dir/deep, d/extra_dir/deep/x, stray, f (a directory), d/link.
  EXPECT_EQ(r.removed, 6u);
  EXPECT_EQ(as_chars(read_file(dir_ / "target/d/same")), big);
  EXPECT_EQ(as_chars(read_file(dir_ / "target/d/changed")), "new content");
  EXPECT_EQ(as_chars(read_file(dir_ / "target/f")), "f");
  EXPECT_FALSE(path_exists(dir_ / "target/d/extra_dir"));
  EXPECT_FALSE(path_exists(dir_ / "target/stray"));
  EXPECT_FALSE(path_exists(dir_ / "target/d/link"));
  EXPECT_EQ(as_chars(read_file(dir_ / "outside/keep")), "k");
}

TEST_F(RestoreTest, DeltaNeverWritesThroughAHardlinkIntoAnotherFile) {
  auto m = crafted({file("f", "restored")});
  mkdirs(dir_ / "target");
  write_file_atomic(dir_ / "outside/other", as_bytes("precious"));
  ASSERT_EQ(::link((dir_ / "outside/other").c_str(), (dir_ / "target/f").c_str()), 0);
  RestoreOptions o{dir_ / "target", false};
  o.delta = true;
  restore_files(*repo_, m, o, {});
  EXPECT_EQ(as_chars(read_file(dir_ / "target/f")), "restored");
  EXPECT_EQ(as_chars(read_file(dir_ / "outside/other")), "precious");
}

}  // namespace
}  // namespace sr::ops

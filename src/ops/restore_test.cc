// Restore must never write outside its target, whatever a (crafted) tree says.
#include "ops/restore.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "base/fs.h"
#include "base/random.h"
#include "ops/block_file.h"
#include "ops/restore_parts.h"
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
    repo_ = sr::testing::open_test_repository(dir_);
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

namespace sr::ops {
namespace {

using namespace restore_parts;

TEST_F(RestoreTest, ResultJsonHasTheCliKeysAndTypes) {
  auto m = crafted({file("f", "twelve bytes")});
  RestoreResult r = restore_files(*repo_, m, {dir_ / "target", false}, {});
  nlohmann::json j = r.to_json();
  EXPECT_EQ(j["id"], m.id);
  EXPECT_EQ(j["target"], dir_ / "target");
  EXPECT_EQ(j["files"], 1u);
  EXPECT_EQ(j["dirs"], 0u);
  EXPECT_EQ(j["bytes"], 12u);
  EXPECT_EQ(j["bytes_unchanged"], 0u);
  EXPECT_EQ(j["removed"], 0u);
  EXPECT_TRUE(j["seconds"].is_number_float());
  EXPECT_GE(j["seconds"].get<double>(), 0.0);
  EXPECT_EQ(j.size(), 8u);
}

// As root (CI), the default keeps foreign owners and setuid/setgid bits, as tar does;
// same_owner = false gives everything to the restoring user and drops those bits.
TEST_F(RestoreTest, NoSameOwnerGivesFilesToTheRestoringUserWithoutSetuid) {
  Entry f = file("suid", "#!/bin/sh\n");
  f.mode = 06755;
  f.uid = 12345;
  f.gid = 23456;
  Entry d;
  d.kind = EntryKind::kDir;
  d.path = "d";
  d.mode = 02750;
  d.uid = 12345;
  d.gid = 23456;
  auto m = crafted({d, file("d/f", "x"), f});
  struct stat st;
  if (::geteuid() == 0) {
    restore_files(*repo_, m, {dir_ / "kept", false}, {});
    ASSERT_EQ(::stat((dir_ / "kept/suid").c_str(), &st), 0);
    EXPECT_EQ(st.st_uid, 12345u);
    EXPECT_EQ(st.st_gid, 23456u);
    EXPECT_EQ(st.st_mode & 07777, 06755u);
  }
  RestoreOptions o{dir_ / "mine", false};
  o.same_owner = false;
  restore_files(*repo_, m, o, {});
  for (const char* p : {"mine/suid", "mine/d", "mine/d/f"}) {
    ASSERT_EQ(::stat((dir_ / p).c_str(), &st), 0) << p;
    EXPECT_EQ(st.st_uid, ::geteuid()) << p;
    EXPECT_EQ(st.st_gid, ::getegid()) << p;
    EXPECT_EQ(st.st_mode & (S_ISUID | S_ISGID), 0u) << p;
  }
  ASSERT_EQ(::stat((dir_ / "mine/suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
}

TEST_F(RestoreTest, NoSpecialFilesSkipsFifosDevicesAndLinksToThemWithACount) {
  Entry fifo;
  fifo.kind = EntryKind::kFifo;
  fifo.path = "fifo";
  fifo.mode = 0600;
  Entry link;
  link.kind = EntryKind::kHardlink;
  link.path = "fifo2";
  link.link_target = "fifo";
  Entry dev;
  dev.kind = EntryKind::kCharDev;
  dev.path = "null";
  dev.mode = 0666;
  dev.rdev = makedev(1, 3);
  auto m = crafted({fifo, link, file("f", "kept"), dev});
  struct stat st;
  RestoreResult kept = restore_files(*repo_, m, {dir_ / "kept", false}, {});
  EXPECT_EQ(kept.special_skipped, 0u);
  EXPECT_FALSE(kept.to_json().contains("special_skipped"));
  ASSERT_EQ(::lstat((dir_ / "kept/fifo2").c_str(), &st), 0);
  EXPECT_TRUE(S_ISFIFO(st.st_mode));
  if (::geteuid() == 0) {
    ASSERT_EQ(::lstat((dir_ / "kept/null").c_str(), &st), 0);
    EXPECT_TRUE(S_ISCHR(st.st_mode));
  }
  RestoreOptions o{dir_ / "plain", false};
  o.special_files = false;
  RestoreResult r = restore_files(*repo_, m, o, {});
  EXPECT_EQ(r.special_skipped, 3u);
  EXPECT_EQ(r.to_json()["special_skipped"], 3u);
  for (const char* p : {"plain/fifo", "plain/fifo2", "plain/null"})
    EXPECT_NE(::lstat((dir_ / p).c_str(), &st), 0) << p;
  EXPECT_EQ(as_chars(read_file(dir_ / "plain/f")), "kept");
}

// A relocated directory kept inside the target (a PostgreSQL tablespace by default): created
// beneath the target with no symlink followed, linked from its place in the tree, kept by a
// delta restore; the backup may not hold anything there itself.
TEST_F(RestoreTest, RelocationInsideTheTarget) {
  Entry ts;
  ts.kind = EntryKind::kDir;
  ts.path = "pg_tblspc/1";
  ts.mode = 0700;
  Entry tblspc = ts;
  tblspc.path = "pg_tblspc";
  auto m = crafted({file("g", "top"), tblspc, ts, file("pg_tblspc/1/f", "in ts")});
  const std::string target = dir_ / "target";
  RestoreOptions o{target, false};
  o.relocate.push_back({"pg_tblspc/1", target + "/pg_tblspc_data/1", "pg_tblspc_data/1"});
  restore_files(*repo_, m, o, {});
  EXPECT_EQ(as_chars(read_file(target + "/pg_tblspc_data/1/f")), "in ts");
  EXPECT_EQ(std::filesystem::read_symlink(target + "/pg_tblspc/1"), target + "/pg_tblspc_data/1");
  o.delta = true;
  RestoreResult r = restore_files(*repo_, m, o, {});
  EXPECT_EQ(r.removed, 0u);
  EXPECT_EQ(as_chars(read_file(target + "/pg_tblspc_data/1/f")), "in ts");

  // A planted symlink where the relocated directory goes is not followed.
  const std::string t2 = dir_ / "t2";
  mkdirs(t2);
  ASSERT_EQ(::symlink((dir_ / "outside").c_str(), (t2 + "/pg_tblspc_data").c_str()), 0);
  RestoreOptions o2{t2, true};
  o2.relocate.push_back({"pg_tblspc/1", t2 + "/pg_tblspc_data/1", "pg_tblspc_data/1"});
  EXPECT_THROW(restore_files(*repo_, m, o2, {}), Error);
  EXPECT_TRUE(outside_untouched());

  // A backup that holds the reserved name itself is refused.
  auto bad = crafted({tblspc, ts, file("pg_tblspc_data", "mine")});
  RestoreOptions o3{dir_ / "t3", false};
  o3.relocate.push_back({"pg_tblspc/1", dir_ / "t3/pg_tblspc_data/1", "pg_tblspc_data/1"});
  EXPECT_THROW(restore_files(*repo_, bad, o3, {}), Error);
}

TEST_F(RestoreTest, CancelledRestoreThrowsCancelled) {
  std::vector<Entry> entries;
  for (int i = 0; i < 64; ++i) {
    Entry e;
    e.kind = EntryKind::kFile;
    e.path = "f" + std::to_string(100 + i);
    e.mode = 0644;
    Bytes data = random_bytes(512 << 10);
    e.size = data.size();
    e.chunks.push_back(repo_->store_chunk(repo::BlobType::kData, data).ref);
    entries.push_back(e);
  }
  auto m = crafted(entries);
  Counters counters;
  CancelToken token;
  OpContext ctx{&token, &counters, nullptr};
  std::jthread watcher([&](std::stop_token st) {
    while (!st.stop_requested() && counters.bytes.load() <= (1u << 20)) std::this_thread::yield();
    token.cancel();
  });
  try {
    restore_files(*repo_, m, {dir_ / "target", false}, ctx);
    FAIL() << "the restore finished although it was cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled) << e.what();
  }
  EXPECT_LT(counters.bytes.load(), 32u << 20);
  // A command backup's output too.
  CancelToken cancelled;
  cancelled.cancel();
  repo::Manifest cm = crafted({file("out", "command output")});
  cm.type = "command";
  try {
    restore_command(*repo_, cm, {dir_ / "cmd.out", false}, {&cancelled});
    ADD_FAILURE() << "a cancelled restore finished";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled);
  }
  EXPECT_FALSE(path_exists(dir_ / "cmd.out"));
}

TEST(RestoreParts, TasksSplitAChunkListIntoPiecesOfAboutTheTaskSize) {
  auto chunks = [](std::vector<uint32_t> lengths) {
    std::vector<repo::ChunkRef> out;
    for (uint32_t n : lengths) {
      repo::ChunkRef c;
      c.raw_length = n;
      out.push_back(c);
    }
    return out;
  };
  EXPECT_TRUE(plan_tasks({}, 100).empty());
  EXPECT_EQ(plan_tasks(chunks({10, 20}), 100), (std::vector<TaskRange>{{0, 2, 0}}));
  EXPECT_EQ(plan_tasks(chunks({60, 60, 60, 10}), 100),
            (std::vector<TaskRange>{{0, 2, 0}, {2, 4, 120}}));
  EXPECT_EQ(plan_tasks(chunks({100, 100, 5}), 100),
            (std::vector<TaskRange>{{0, 1, 0}, {1, 2, 100}, {2, 3, 200}}));
}

TEST(RestoreParts, ExtraneousEntriesAreWhatTheBackupLacksOrHasAsAnotherType) {
  // What the target has, in path order (true: a directory).
  std::vector<std::pair<std::string, bool>> have = {
      {"a", true},    {"a/keep", false}, {"a/stray", false}, {"b", true},
      {"b/x", false}, {"c", false},      {"d", true},        {"z", false}};
  ExtraneousFinder finder(have);
  finder.want("a", true);
  finder.want("a/keep", false);
  finder.want("b", false);  // a file in the backup: the directory goes (and its contents)
  finder.want("c", false);
  finder.want("d", true);
  finder.want("d/new", false);  // not there yet: nothing to remove
  auto remove = finder.finish();
  std::vector<std::string> names;
  for (size_t i : remove) names.push_back(have[i].first);
  EXPECT_EQ(names, (std::vector<std::string>{"a/stray", "b", "b/x", "z"}));
  EXPECT_TRUE(std::is_sorted(remove.begin(), remove.end()));  // reverse: children first
}

TEST_F(RestoreTest, DeltaComparisonFindsTheDifferingPagesOfAnExistingFile) {
  constexpr uint32_t kPs = 4096;
  Bytes backup = random_bytes(8 * kPs);
  Bytes target = backup;
  target[2 * kPs + 7] ^= 1;  // page 2
  target[3 * kPs] ^= 1;      // page 3: adjacent, one range
  target[6 * kPs + 9] ^= 1;  // page 6
  write_file_atomic(dir_ / "existing", target);
  OpenFile f;
  f.fd = open_or_throw(dir_ / "existing", O_RDONLY);
  f.existing = true;
  f.entry.path = "existing";
  f.entry.page_size = kPs;
  f.page_hash_seed = 9;
  for (size_t off = 0; off < backup.size(); off += kPs)
    f.page_map.push_back(page_hash(ByteSpan(backup.data() + off, kPs), 9));
  repo::ChunkRef c = repo_->store_chunk(repo::BlobType::kData, backup).ref;
  auto ranges = differing(f, c, 0, *repo_);
  using R = std::vector<std::pair<size_t, size_t>>;
  EXPECT_EQ(ranges, (R{{2 * kPs, 4 * kPs}, {6 * kPs, 7 * kPs}}));
  // Without a block map the chunk is compared whole, by its keyed id.
  f.page_map.clear();
  EXPECT_EQ(differing(f, c, 0, *repo_), (R{{0, 8 * kPs}}));
  write_file_atomic(dir_ / "existing", backup);
  f.fd = open_or_throw(dir_ / "existing", O_RDONLY);
  EXPECT_TRUE(differing(f, c, 0, *repo_).empty());
  // A hole: the target must read as zeros there.
  repo::ChunkRef hole;
  hole.hole = true;
  hole.raw_length = kPs;
  EXPECT_EQ(differing(f, hole, 0, *repo_), (R{{0, kPs}}));
  write_file_atomic(dir_ / "existing", Bytes(kPs, 0));
  f.fd = open_or_throw(dir_ / "existing", O_RDONLY);
  EXPECT_TRUE(differing(f, hole, 0, *repo_).empty());
}

}  // namespace
}  // namespace sr::ops

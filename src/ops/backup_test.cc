#include "ops/backup.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "base/fs.h"
#include "base/random.h"
#include "ops/backup_parts.h"
#include "ops/restore.h"
#include "ops/verify.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

class BackupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sr::testing::init_test_repository(dir_);
    mkdirs(dir_ / "src/sub");
    for (int i = 0; i < 5; ++i)
      write_file_atomic(dir_ / ("src/sub/f" + std::to_string(i)), random_bytes(100000));
  }
  std::unique_ptr<repo::Repository> open() { return sr::testing::open_test_repository(dir_); }
  FilesBackupOptions options() {
    FilesBackupOptions o;
    o.paths = {dir_ / "src"};
    return o;
  }
  sr::testing::TempDir dir_;
  std::vector<std::string> warnings_;  // log lines at warn level
  std::unique_ptr<log::Logger> logger_ =
      log::make_callback_logger(log::Format::kText, log::Level::kWarn,
                                [this](std::string_view line) { warnings_.emplace_back(line); });
  OpContext ctx_{nullptr, nullptr, logger_.get()};
};

// Regression (review finding 1): a repository write failure must abort the backup, not be
// reported as an unreadable source file while a broken backup is saved.
TEST_F(BackupTest, RepositoryWriteFailureAbortsTheBackup) {
  auto repo = open();
  std::filesystem::remove_all(dir_ / "repo/tmp");
  write_file_atomic(dir_ / "repo/tmp", as_bytes("not a directory"));  // staging fails
  try {
    backup_files(*repo, options(), ctx_);
    FAIL() << "backup succeeded although the repository cannot be written";
  } catch (const Error& e) {
    EXPECT_NE(e.code(), Errc::kSourceUnreadable);
  }
  EXPECT_TRUE(open()->list_manifests().empty());
}

TEST_F(BackupTest, UnreadableSourceFileIsSkippedWithAWarning) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads everything";
  ::chmod((dir_ / "src/sub/f1").c_str(), 0);
  auto r = backup_files(*open(), options(), ctx_);
  EXPECT_EQ(r.warnings, 1u);
  EXPECT_EQ(r.manifest.file_count, 4u);
}

TEST_F(BackupTest, SecondBackupReusesUnchangedFilesAndReadsChangedOnes) {
  // Files changed within a second before a backup are read again by the next one (timestamp
  // granularity), so let the tree age first.
  ::usleep(1100000);
  auto first = backup_files(*open(), options(), ctx_);
  EXPECT_EQ(first.reused_files, 0u);
  write_file_atomic(dir_ / "src/sub/f2", random_bytes(100000));
  auto second = backup_files(*open(), options(), ctx_);
  EXPECT_EQ(second.manifest.parent, first.manifest.id);
  EXPECT_EQ(second.reused_files, 4u);
  EXPECT_GT(second.manifest.added_size, 100000u);
  EXPECT_LT(second.manifest.added_size, 250000u);
}

// Regression (review finding 6): a damaged parent tree must not block every later backup.
TEST_F(BackupTest, DamagedParentTreeFallsBackToReadingEverything) {
  auto first = backup_files(*open(), options(), ctx_);
  {
    auto repo = open();
    repo->load_index();
    codec::ChunkId tid;
    Bytes raw = from_hex(first.manifest.tree[0]);
    std::copy(raw.begin(), raw.end(), tid.begin());
    auto loc = repo->lookup(tid);
    ASSERT_TRUE(loc);
    std::string pack = dir_ / ("repo/" + repo::pack_object_key(loc->pack));
    Bytes bytes = read_file(pack);
    bytes[loc->offset + 20] ^= 0xff;
    ::chmod(pack.c_str(), 0644);
    write_file_atomic(pack, bytes);
  }
  // A changed file, so the new tree is not the (damaged) old tree chunk again: dedup cannot
  // know a stored chunk is damaged (see the closing note on repair).
  write_file_atomic(dir_ / "src/sub/f0", random_bytes(1000));
  auto second = backup_files(*open(), options(), ctx_);
  EXPECT_TRUE(second.manifest.parent.empty());
  ASSERT_FALSE(warnings_.empty());
  EXPECT_NE(warnings_.back().find("cannot be read"), std::string::npos);
  restore_files(*open(), second.manifest, {dir_ / "out", false}, {});
  EXPECT_EQ(read_file(dir_ / "out/sub/f3"), read_file(dir_ / "src/sub/f3"));
}

}  // namespace
}  // namespace sr::ops

namespace sr::ops {
namespace {

using backup_parts::newest_matching;
using backup_parts::Totals;
using backup_parts::unchanged_since_parent;
using repo::Entry;
using repo::EntryKind;

// A progress watcher: cancels `token` once `counters` shows more than `bytes` done.
std::jthread cancel_after(Counters& counters, CancelToken& token, uint64_t bytes) {
  return std::jthread([&counters, &token, bytes](std::stop_token st) {
    while (!st.stop_requested() && counters.bytes.load() <= bytes) std::this_thread::yield();
    token.cancel();
  });
}

class BackupCancelTest : public BackupTest {
 protected:
  void SetUp() override {
    BackupTest::SetUp();
    // 48 MiB of incompressible data in 96 files: more than a pack (32 MiB), so a backup
    // cancelled after 36 MiB has published a pack that no manifest references.
    mkdirs(dir_ / "src/big");
    for (int i = 0; i < 96; ++i)
      write_file_atomic(dir_ / ("src/big/f" + std::to_string(i)), random_bytes(512 << 10));
  }
  // Returns the packs the cancelled backup left (indexed or not).
  uint64_t expect_repository_sound() {
    auto repo = open();
    EXPECT_TRUE(repo->list_manifests().empty()) << "a cancelled backup published a manifest";
    VerifyOptions vo;
    vo.read_data = true;
    VerifyReport report = verify(*repo, vo, {});
    EXPECT_TRUE(report.ok()) << (report.problems.empty() ? "" : report.problems[0]);
    uint64_t leftovers = report.packs + report.unreferenced_packs;
    // And it takes the next backup, which restores.
    auto r = backup_files(*repo, options(), ctx_);
    restore_files(*open(), r.manifest, {dir_ / "out", false}, {});
    EXPECT_EQ(read_file(dir_ / "out/big/f95"), read_file(dir_ / "src/big/f95"));
    return leftovers;
  }
};

TEST_F(BackupCancelTest, CancelledMidwayPublishesNoManifestAndLeavesASoundRepository) {
  Counters counters;
  CancelToken token;
  OpContext ctx{&token, &counters, logger_.get()};
  auto watcher = cancel_after(counters, token, 36 << 20);
  try {
    backup_files(*open(), options(), ctx);
    FAIL() << "the backup finished although it was cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled) << e.what();
  }
  EXPECT_LT(counters.bytes.load(), 48u << 20);
  EXPECT_GT(expect_repository_sound(), 0u) << "no pack was published before the cancellation";
}

TEST_F(BackupCancelTest, CancelledBeforeItStartsPublishesNothing) {
  CancelToken token;
  token.cancel();
  OpContext ctx{&token, nullptr, nullptr};
  try {
    backup_files(*open(), options(), ctx);
    FAIL() << "the backup ran although it was cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled);
  }
  expect_repository_sound();
}

TEST_F(BackupCancelTest, CancelledCommandBackupPublishesNoManifest) {
  Counters counters;
  CancelToken token;
  OpContext ctx{&token, &counters, nullptr};
  auto watcher = cancel_after(counters, token, 1 << 20);
  CommandBackupOptions o;
  o.command = "head -c 67108864 /dev/urandom";
  o.name = "dump";
  try {
    backup_command(*open(), o, ctx);
    FAIL() << "the backup finished although it was cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled) << e.what();
  }
  expect_repository_sound();
}

TEST_F(BackupTest, ResultJsonIsTheListingPlusWarnings) {
  BackupResult r;
  r.manifest.id = "abc";
  r.manifest.type = "files";
  r.manifest.size = 123;
  r.warnings = 2;
  nlohmann::json j = r.to_json();
  nlohmann::json expect = r.manifest.to_listing_json();
  expect["warnings"] = 2;
  EXPECT_EQ(j, expect);
  EXPECT_TRUE(j["warnings"].is_number_unsigned());
  EXPECT_EQ(j["id"], "abc");
}

TEST(BackupParts, NewestMatchingBackupIsTheParent) {
  auto m = [](std::string id, std::string type, std::string host, std::vector<std::string> paths) {
    repo::Manifest x;
    x.id = std::move(id);
    x.type = std::move(type);
    x.host = std::move(host);
    x.paths = std::move(paths);
    return x;
  };
  std::vector<repo::Manifest> all = {
      m("a", "files", "h", {"/x", "/y"}), m("b", "files", "h", {"/y", "/x"}),
      m("c", "files", "other", {"/x", "/y"}), m("d", "postgres", "h", {"/x", "/y"}),
      m("e", "files", "h", {"/x"})};
  auto p = newest_matching(all, "files", "h", {"/x", "/y"});
  ASSERT_TRUE(p);
  EXPECT_EQ(p->id, "b");  // the newest; path order does not matter
  EXPECT_EQ(newest_matching(all, "files", "h", {"/x"})->id, "e");
  EXPECT_FALSE(newest_matching(all, "files", "h", {"/z"}));
  EXPECT_FALSE(newest_matching(all, "command", "h", {"/x", "/y"}));
}

TEST(BackupParts, UnchangedFileDecision) {
  const int64_t parent_start = 100 * backup_parts::kTimestampMarginNs;
  Entry p;
  p.kind = EntryKind::kFile;
  p.path = "d/f";
  p.size = 10;
  p.mtime_ns = 5;
  p.ctime_ns = parent_start - 2 * backup_parts::kTimestampMarginNs;
  p.inode = 7;
  Entry e = p;
  EXPECT_TRUE(unchanged_since_parent(p, e, parent_start));
  auto changed = [&](auto mutate) {
    Entry x = e;
    mutate(x);
    return !unchanged_since_parent(p, x, parent_start);
  };
  EXPECT_TRUE(changed([](Entry& x) { x.size = 11; }));
  EXPECT_TRUE(changed([](Entry& x) { x.mtime_ns = 6; }));
  EXPECT_TRUE(changed([](Entry& x) { x.ctime_ns += 1; }));
  EXPECT_TRUE(changed([](Entry& x) { x.inode = 8; }));
  EXPECT_TRUE(changed([](Entry& x) { x.path = "d/g"; }));
  // Changed within the second before the parent started: the parent may have read it
  // half-written within the same timestamp tick.
  Entry recent = p;
  recent.ctime_ns = parent_start - backup_parts::kTimestampMarginNs / 2;
  EXPECT_FALSE(unchanged_since_parent(recent, recent, parent_start));
  Entry dir = p;
  dir.kind = EntryKind::kDir;
  EXPECT_FALSE(unchanged_since_parent(dir, e, parent_start));
}

TEST(BackupParts, SegmentBlockBase) {
  EXPECT_EQ(backup_parts::segment_block_base("base/1/16384", 8192), 0u);
  EXPECT_EQ(backup_parts::segment_block_base("base/1/16384.2", 8192), 2u * 131072u);
  EXPECT_EQ(backup_parts::segment_block_base("/data.d/base/1/16384.1", 8192), 131072u);
}

TEST_F(BackupTest, TotalsCountSharedChunksOnce) {
  auto repo = open();
  repo->load_index();
  auto stored = repo->store_chunk(repo::BlobType::kData, as_bytes(std::string("shared bytes")));
  Entry a;
  a.kind = EntryKind::kFile;
  a.size = 12;
  a.chunks = {stored.ref};
  repo::ChunkRef hole;
  hole.hole = true;
  hole.raw_length = 4096;
  Entry b = a;
  b.size = 12 + 4096;
  b.chunks.push_back(hole);
  Entry d;
  d.kind = EntryKind::kDir;
  Totals t;
  t.add(a);
  t.add(b);
  t.add(d);
  EXPECT_EQ(t.files, 2u);
  EXPECT_EQ(t.dirs, 1u);
  EXPECT_EQ(t.size, 12u + 12u + 4096u);
  EXPECT_EQ(t.stored, stored.ref.stored_length);
}

}  // namespace
}  // namespace sr::ops

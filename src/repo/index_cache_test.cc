#include "repo/index_cache.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "testing/temp_dir.h"

namespace sr::repo {
namespace {

PackInfo one_pack(const std::string& name) {
  PackInfo p;
  p.name = name;
  p.wrapped_key = Bytes(38, 1);
  p.size = 100;
  BlobEntry b;
  b.id.fill(static_cast<uint8_t>(name.back()));
  b.offset = 0;
  b.length = 10;
  b.raw_length = 10;
  p.blobs.push_back(b);
  return p;
}

TEST(IndexCache, RecordsPacksAndChunks) {
  testing::TempDir dir;
  IndexCache c(dir.path() + "/cache.db");
  c.add_index_file("index-a", {one_pack("pack1")});
  EXPECT_EQ(c.ingested_index_files(), std::vector<std::string>{"index-a"});
  codec::ChunkId id{};
  id.fill('1');
  auto loc = c.lookup(id);
  ASSERT_TRUE(loc);
  EXPECT_EQ(loc->pack, "pack1");
  EXPECT_EQ(c.chunk_count(), 1u);
}

// Two connections to one cache (two processes: a backup and a prune) take turns writing. A
// statement left holding its row after a write kept that connection's read snapshot open, and its
// next write met SQLITE_BUSY at once ("database is locked"), without the busy timeout.
TEST(IndexCache, ConnectionsTakeTurnsWriting) {
  testing::TempDir dir;
  IndexCache a(dir.path() + "/cache.db");
  IndexCache b(dir.path() + "/cache.db");
  a.add_index_file("index-a", {one_pack("pack1")});
  b.add_index_file("index-b", {one_pack("pack2")});
  a.add_index_file("index-c", {one_pack("pack3")});
  b.set_missing_packs({"pack1"});
  a.set_missing_packs({"pack2"});
  EXPECT_EQ(a.ingested_index_files().size(), 3u);
  EXPECT_EQ(b.chunk_count(), 3u);
}

// Processes that open a cache nobody has created yet (concurrent backups of a new repository)
// all succeed: switching the new database to WAL meets SQLITE_BUSY without SQLite's busy handler,
// which failed about one backup in forty with "database is locked" before it was retried.
TEST(IndexCache, ConcurrentProcessesCreateOneCache) {
  testing::TempDir dir;
  int failed = 0;
  for (int round = 0; round < 150; ++round) {
    const std::string path = dir.path() + "/cache-" + std::to_string(round) + ".db";
    constexpr int kProcs = 4;
    for (int k = 0; k < kProcs; ++k) {
      pid_t pid = ::fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        try {
          IndexCache c(path);
          c.add_index_file("index-" + std::to_string(k), {one_pack("pack" + std::to_string(k))});
        } catch (const std::exception& e) {
          ::fprintf(stderr, "round %d process %d: %s\n", round, k, e.what());
          ::_exit(1);
        }
        ::_exit(0);
      }
    }
    for (int k = 0; k < kProcs; ++k) {
      int st = 0;
      ::wait(&st);
      if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) ++failed;
    }
    IndexCache c(path);
    EXPECT_EQ(c.ingested_index_files().size(), static_cast<size_t>(kProcs)) << "round " << round;
  }
  EXPECT_EQ(failed, 0);
}

}  // namespace
}  // namespace sr::repo

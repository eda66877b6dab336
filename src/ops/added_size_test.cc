// Per-operation counters: a backup records what it added itself, not what the Repository object
// added over its life (two backups through one Repository, as a daemon runs them).
#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/random.h"
#include "ops/backup.h"
#include "storage/memory_storage.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

TEST(AddedSize, TwoBackupsThroughOneRepositoryCountTheirOwn) {
  sr::testing::TempDir dir;
  auto mem = std::make_unique<storage::MemoryStorage>("added", dir.path());
  storage::MemoryStorage* raw = mem.get();
  repo::Repository::init(*mem, "pw", sr::testing::fast_init_options());
  auto repo = repo::Repository::open(std::move(mem), repo::Credential{"pw", false},
                                     repo::RepoOptions{dir / "cache"});
  auto pack_bytes = [&] {
    uint64_t n = 0;
    raw->list("data/", [&](const storage::ObjectInfo& o) { n += o.size; });
    return n;
  };

  mkdirs(dir / "a");
  write_file_atomic(dir / "a/f", random_bytes(400000));
  FilesBackupOptions o;
  o.paths = {dir / "a"};
  BackupResult first = backup_files(*repo, o, {});
  const uint64_t after_first = pack_bytes();
  EXPECT_GT(first.manifest.added_size, 400000u);
  EXPECT_LE(first.manifest.added_size, after_first);

  mkdirs(dir / "b");
  write_file_atomic(dir / "b/g", random_bytes(100000));
  o.paths = {dir / "b"};
  BackupResult second = backup_files(*repo, o, {});
  const uint64_t added = pack_bytes() - after_first;
  EXPECT_GT(second.manifest.added_size, 100000u);
  EXPECT_LT(second.manifest.added_size, 200000u) << "counted the first backup's data again";
  EXPECT_LE(second.manifest.added_size, added);

  // Nothing new: nothing added.
  BackupResult third = backup_files(*repo, o, {});
  EXPECT_EQ(third.manifest.added_size, 0u);
}

}  // namespace
}  // namespace sr::ops

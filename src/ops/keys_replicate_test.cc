// Key rotation and replicas (issue 10, item 12): key slots are rewritten in place by a rotation,
// so replicate copies a slot again when its bytes differ; a replica then opens at the new key
// generation and restores a backup written after the rotation.
#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/random.h"
#include "ops/backup.h"
#include "ops/keys.h"
#include "ops/replicate.h"
#include "ops/restore.h"
#include "storage/memory_storage.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

std::unique_ptr<repo::Repository> open_copy(storage::Storage& s, const sr::testing::TempDir& dir,
                                            const std::string& name) {
  auto copy = std::make_unique<storage::MemoryStorage>(name, dir.path());
  s.list("", [&](const storage::ObjectInfo& o) { copy->put(o.key, s.get(o.key)); });
  return repo::Repository::open(std::move(copy), repo::Credential{"pw", false},
                                repo::RepoOptions{dir / ("cache-" + name)});
}

TEST(KeysReplicate, ARotationReachesTheReplica) {
  sr::testing::TempDir dir;
  mkdirs(dir / "src");
  Bytes content = random_bytes(50000);
  write_file_atomic(dir / "src/f", content);
  auto src = std::make_unique<storage::MemoryStorage>("primary", dir.path());
  repo::Repository::init(*src, "pw", sr::testing::fast_init_options());
  auto source = repo::Repository::open(std::move(src), repo::Credential{"pw", false},
                                       repo::RepoOptions{dir / "cache"});
  FilesBackupOptions o;
  o.paths = {dir / "src"};
  backup_files(*source, o, {});
  storage::MemoryStorage replica("replica", dir.path());
  replicate(*source, replica, {}, {});

  OpContext ctx;
  EXPECT_EQ(rotate_keys(*source, ctx).generation, 1u);
  repo::Manifest after = backup_files(*source, o, {}).manifest;
  ReplicateResult r = replicate(*source, replica, {}, {});
  EXPECT_GE(r.copied_objects, 3u);  // the rewritten slot, the new ring, the new objects
  EXPECT_EQ(replicate(*source, replica, {}, {}).copied_objects, 0u);  // and then nothing

  auto target = open_copy(replica, dir, "copy");
  EXPECT_EQ(target->key_generation(), 1u);
  RestoreOptions ro{dir / "restored", false};
  restore_files(*target, target->load_manifest(after.id), ro, {});
  EXPECT_EQ(read_file(dir / "restored/f"), content);
}

}  // namespace
}  // namespace sr::ops

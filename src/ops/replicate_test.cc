#include "ops/replicate.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "base/fs.h"
#include "base/random.h"
#include "ops/backup.h"
#include "ops/restore.h"
#include "repo/tree_stream.h"
#include "storage/fault_storage.h"
#include "storage/memory_storage.h"
#include "testing/object_stores.h"
#include "testing/temp_dir.h"
#include "testing/test_env.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

using sr::testing::TempDir;

// Makes a small tree under dir/src; returns its files' contents by relative path.
std::map<std::string, Bytes> make_tree(const TempDir& dir) {
  std::map<std::string, Bytes> files;
  mkdirs(dir / "src/sub");
  for (int i = 0; i < 6; ++i) {
    std::string rel = "sub/f" + std::to_string(i);
    files[rel] = random_bytes(static_cast<size_t>(30000 * (i + 1)));
    write_file_atomic(dir / ("src/" + rel), files[rel]);
  }
  return files;
}

repo::Manifest backup_tree(repo::Repository& r, const TempDir& dir) {
  FilesBackupOptions o;
  o.paths = {dir / "src"};
  return backup_files(r, o, {}).manifest;
}

// Restores `m` from `r` and compares every file with `files`.
void expect_restores(repo::Repository& r, const repo::Manifest& m, const std::string& target,
                     const std::map<std::string, Bytes>& files) {
  RestoreOptions ro{target, false};
  restore_files(r, m, ro, {});
  for (const auto& [rel, content] : files) EXPECT_EQ(read_file(target + "/" + rel), content) << rel;
}

std::unique_ptr<repo::Repository> open_on(std::unique_ptr<storage::Storage> s,
                                          const std::string& cache) {
  return repo::Repository::open(std::move(s), repo::Credential{"pw", false},
                                repo::RepoOptions{cache});
}

TEST(Replicate, MemoryToMemoryRestoresTheSameBackup) {
  TempDir dir;
  auto files = make_tree(dir);
  auto src_store = std::make_unique<storage::MemoryStorage>("primary", dir.path());
  repo::Repository::init(*src_store, "pw", sr::testing::fast_init_options());
  auto source = open_on(std::move(src_store), dir / "cache1");
  repo::Manifest m = backup_tree(*source, dir);

  storage::MemoryStorage replica("replica", dir.path());
  ReplicateResult r = replicate(*source, replica, {}, {});
  EXPECT_TRUE(r.created);
  EXPECT_EQ(r.copied_objects, r.missing_objects);
  EXPECT_EQ(replicate(*source, replica, {}, {}).copied_objects, 0u);  // idempotent

  // The replica opens with the same password (a copy of the objects: a second MemoryStorage).
  auto copy = std::make_unique<storage::MemoryStorage>("copy", dir.path());
  replica.list("", [&](const storage::ObjectInfo& o) { copy->put(o.key, replica.get(o.key)); });
  auto target = open_on(std::move(copy), dir / "cache2");
  ASSERT_EQ(target->list_manifests().size(), 1u);
  expect_restores(*target, target->list_manifests()[0], dir / "restored", files);
  EXPECT_EQ(target->list_manifests()[0].id, m.id);
}

TEST(Replicate, DamagedSourceObjectIsNotCopied) {
  TempDir dir;
  make_tree(dir);
  auto mem = std::make_unique<storage::MemoryStorage>("primary", dir.path());
  storage::MemoryStorage* raw = mem.get();
  repo::Repository::init(*mem, "pw", sr::testing::fast_init_options());
  auto source = open_on(std::move(mem), dir / "cache");
  backup_tree(*source, dir);
  // Flip a byte in the manifest.
  std::string key;
  raw->list("manifests/", [&](const storage::ObjectInfo& o) { key = o.key; });
  Bytes b = raw->get(key);
  b[b.size() / 2] ^= 1;
  raw->put(key, b);
  storage::MemoryStorage replica("replica", dir.path());
  try {
    replicate(*source, replica, {}, {});
    FAIL() << "a damaged manifest was replicated";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
  }
  size_t manifests = 0;
  replica.list("manifests/", [&](const storage::ObjectInfo&) { ++manifests; });
  EXPECT_EQ(manifests, 0u);
  EXPECT_FALSE(replica.stat("config"));
}

// Two repositories in one process, on different backends with different credentials,
// endpoints, listing page sizes and retry budgets: back up into S3, replicate to Azure, restore
// from Azure. Needs s3rver and Azurite (tests/e2e/test_storage_conformance.sh).
TEST(TwoRepositories, S3AndAzureSideBySideWithDifferentSettings) {
  auto s3 = sr::testing::test_s3_settings(sr::testing::test_env);
  auto azure = sr::testing::test_azure_settings(sr::testing::test_env);
  if (!s3 || !azure) GTEST_SKIP() << "s3rver and Azurite not configured";
  TempDir dir;
  auto files = make_tree(dir);

  storage::StorageSettings a;
  a.s3 = *s3;
  a.transfer.list_page_size = 2;
  a.transfer.multipart_threshold = 1 << 20;
  a.transfer.part_size = 5 << 20;
  a.transfer.temp_dir = dir.path();
  a.http.retry.budget_seconds = 3;
  storage::StorageSettings b;
  b.azure = *azure;
  b.transfer.list_page_size = 7;
  b.transfer.temp_dir = dir.path();
  b.http.retry.budget_seconds = 11;
  const std::string s3_url = sr::testing::unique_url("s3", "primary");
  const std::string azure_url = sr::testing::unique_url("azure", "dr");

  {
    auto s = storage::open_storage(s3_url, a);
    repo::Repository::init(*s, "pw", sr::testing::fast_init_options());
  }
  auto primary = open_on(storage::open_storage(s3_url, a), dir / "cache-primary");
  repo::Manifest m = backup_tree(*primary, dir);
  auto target = storage::open_storage(azure_url, b);
  ReplicateResult r = replicate(*primary, *target, {}, {});
  EXPECT_TRUE(r.created);
  EXPECT_GT(r.copied_objects, 2u);  // more than a listing page of either side

  auto dr = open_on(storage::open_storage(azure_url, b), dir / "cache-dr");
  EXPECT_EQ(dr->config().id, primary->config().id);
  EXPECT_NE(dr->describe(), primary->describe());
  auto backups = dr->list_manifests();
  ASSERT_EQ(backups.size(), 1u);
  EXPECT_EQ(backups[0].id, m.id);
  expect_restores(*dr, backups[0], dir / "restored", files);

  // Wrong S3 credentials in a third set of settings fail, and leave the others working.
  storage::StorageSettings wrong = a;
  wrong.s3.access_key_id = "AKIAWRONGWRONGWRONG";
  EXPECT_THROW(open_on(storage::open_storage(s3_url, wrong), dir / "cache-x"), Error);
  EXPECT_EQ(dr->list_manifests().size(), 1u);
  EXPECT_EQ(primary->list_manifests().size(), 1u);
}

}  // namespace
}  // namespace sr::ops

#include "ops/repair.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "base/fs.h"
#include "base/random.h"
#include "ops/backup.h"
#include "ops/verify.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

class RepairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sr::testing::init_test_repository(dir_);
    mkdirs(dir_ / "src");
    write_file_atomic(dir_ / "src/f", random_bytes(600000));
  }
  std::unique_ptr<repo::Repository> open() { return sr::testing::open_test_repository(dir_); }
  BackupResult backup(const std::string& path) {
    FilesBackupOptions o;
    o.paths = {path};
    return backup_files(*open(), o, {});
  }
  std::vector<std::string> packs() {
    std::vector<std::string> out;
    for (const auto& o : open()->list_objects(repo::ObjectKind::kPack)) out.push_back(o.name());
    return out;
  }
  void remove_pack(const std::string& name) {
    open()->storage().remove(repo::pack_object_key(name));
  }
  sr::testing::TempDir dir_;
};

TEST_F(RepairTest, BackupStoresChunksOfAMissingPackAgain) {
  auto first = backup(dir_ / "src");
  EXPECT_GT(first.manifest.added_size, 500000u);
  for (const auto& p : packs()) remove_pack(p);  // every pack gone, the index still names them
  auto repo = open();
  repo->load_index();
  EXPECT_EQ(warn_missing_packs(*repo, {}), 2u);  // a data pack and a tree pack
  auto second = backup(dir_ / "src");  // same data, same parent: must not reference gone chunks
  EXPECT_GT(second.manifest.added_size, 500000u);
  VerifyReport r = verify(*open(), {}, {});
  EXPECT_EQ(r.missing_packs, 2u);
  EXPECT_EQ(r.missing_pack_names.size(), 2u);
  EXPECT_FALSE(r.damaged_backups.count(second.manifest.id));
}

TEST_F(RepairTest, RepairIndexRebuildsFromPacksAndInventsNothing) {
  auto kept = backup(dir_ / "src");
  auto before = packs();
  mkdirs(dir_ / "lost");
  write_file_atomic(dir_ / "lost/g", random_bytes(400000));
  auto lost = backup(dir_ / "lost");
  std::vector<std::string> lost_packs;
  for (const auto& p : packs())
    if (std::find(before.begin(), before.end(), p) == before.end()) lost_packs.push_back(p);
  ASSERT_FALSE(lost_packs.empty());
  for (const auto& p : lost_packs) remove_pack(p);
  auto old_index = open()->list_objects(repo::ObjectKind::kIndex);

  Counters counters;
  RepairIndexReport rep = repair_index(*open(), {nullptr, &counters, nullptr});
  EXPECT_EQ(rep.packs, before.size());
  EXPECT_EQ(rep.missing_pack_count, lost_packs.size());
  EXPECT_EQ(rep.index_objects_removed, old_index.size());
  EXPECT_GE(rep.index_objects_written, 1u);
  EXPECT_EQ(counters.files.load(), before.size());
  for (const auto& o : open()->list_objects(repo::ObjectKind::kIndex))
    for (const auto& old : old_index) EXPECT_NE(o.name(), old.name());

  VerifyReport r = verify(*open(), {true}, {});
  EXPECT_EQ(r.missing_packs, 0u);
  EXPECT_TRUE(r.damaged_backups.count(lost.manifest.id));
  EXPECT_FALSE(r.damaged_backups.count(kept.manifest.id));
  EXPECT_FALSE(r.rollback.any());
  EXPECT_EQ(r.to_json()["missing_packs"], 0u);
}

TEST_F(RepairTest, DamagedPackIsLeftOutAndReported) {
  backup(dir_ / "src");
  auto all = packs();
  ASSERT_FALSE(all.empty());
  auto repo = open();
  repo->storage().put(repo::pack_object_key(all[0]), as_bytes("not a pack"));
  RepairIndexReport rep = repair_index(*open(), {});
  ASSERT_EQ(rep.damaged_packs.size(), 1u);
  EXPECT_NE(rep.damaged_packs[0].find(all[0]), std::string::npos);
  EXPECT_EQ(rep.packs, all.size() - 1);
}

}  // namespace
}  // namespace sr::ops

// The Repository's typed operations (marks, key slots, object listing and copying, manifest
// listing that never skips a damaged manifest, per-operation write counters), on an in-memory
// store and through the fault-injecting decorator.
#include <gtest/gtest.h>

#include "base/random.h"
#include "repo/lock.h"
#include "repo/repository.h"
#include "repo/tree_stream.h"
#include "storage/fault_storage.h"
#include "storage/memory_storage.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::repo {
namespace {

class FacadeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mem = std::make_unique<storage::MemoryStorage>("facade", dir_.path());
    mem_ = mem.get();
    Repository::init(*mem, "pw", sr::testing::fast_init_options());
    auto fault = std::make_unique<storage::FaultStorage>(std::move(mem));
    fault_ = fault.get();
    repo_ =
        Repository::open(std::move(fault), Credential{"pw", false}, RepoOptions{dir_ / "cache"});
  }
  // A second Repository object on the same objects (another process, in effect).
  std::unique_ptr<Repository> reopen(const Credential& c) {
    auto copy = std::make_unique<storage::MemoryStorage>("copy", dir_.path());
    mem_->list("", [&](const storage::ObjectInfo& o) { copy->put(o.key, mem_->get(o.key)); });
    return Repository::open(std::move(copy), c, RepoOptions{dir_ / "cache2"});
  }
  std::string save_backup(int64_t time_ns) {
    TreeWriter tree(*repo_);
    Manifest m;
    m.type = "files";
    m.time_ns = time_ns;
    m.end_time_ns = time_ns;
    m.tree = tree.finish();
    repo_->flush();
    return repo_->save_manifest(m);
  }
  void damage(const std::string& key) {
    Bytes b = mem_->get(key);
    b[b.size() - 3] ^= 0x40;
    mem_->put(key, b);
  }

  sr::testing::TempDir dir_;
  storage::MemoryStorage* mem_ = nullptr;
  storage::FaultStorage* fault_ = nullptr;
  std::unique_ptr<Repository> repo_;
};

TEST_F(FacadeTest, OpensOnAnyStorageItIsHanded) {
  EXPECT_EQ(repo_->describe(), "memory:facade");
  EXPECT_EQ(repo_->list_objects(ObjectKind::kConfig).size(), 1u);
  // The key slot and the key ring it opens (keys/ring.<id>, replicated with the slots).
  EXPECT_EQ(repo_->list_objects(ObjectKind::kKeySlot).size(), 2u);
  EXPECT_THROW(
      Repository::open(std::make_unique<storage::MemoryStorage>(), Credential{"pw", false}),
      Error);  // nothing there
}

TEST_F(FacadeTest, MarksRoundTripAndReplace) {
  EXPECT_FALSE(repo_->load_mark("main", "before-upgrade"));
  repo_->save_mark("main", "before-upgrade", {{"lsn", "0/1"}});
  repo_->save_mark("main", "before-upgrade", {{"lsn", "0/2"}});  // replaces
  repo_->save_mark("other", "before-upgrade", {{"lsn", "9/9"}});
  auto j = repo_->load_mark("main", "before-upgrade");
  ASSERT_TRUE(j);
  EXPECT_EQ((*j)["lsn"], "0/2");
  EXPECT_EQ((*repo_->load_mark("other", "before-upgrade"))["lsn"], "9/9");
  auto marks = repo_->list_objects(ObjectKind::kMark);
  ASSERT_EQ(marks.size(), 2u);
  // Sealed: the name and the record do not appear in the stored bytes.
  Bytes stored = mem_->get(marks[0].key);
  std::string text(stored.begin(), stored.end());
  EXPECT_EQ(text.find("lsn"), std::string::npos);
  damage(marks[0].key);
  damage(marks[1].key);
  EXPECT_THROW(repo_->load_mark("main", "before-upgrade"), Error);
}

TEST_F(FacadeTest, KeySlotRules) {
  const std::string first = repo_->opened_slot();
  EXPECT_EQ(repo_->list_key_slots().size(), 1u);
  try {
    repo_->remove_key_slot(first);
    FAIL() << "removed the last slot";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    EXPECT_NE(std::string(e.what()).find("last key slot"), std::string::npos);
  }
  std::string second = repo_->add_key_slot(Credential{"second", false}, {1024, 8, 1});
  EXPECT_EQ(repo_->list_key_slots().size(), 2u);
  try {
    repo_->remove_key_slot(first);  // the one in use
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
  }
  try {
    repo_->remove_key_slot("0123456789abcdef0123456789abcdef");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kNotFound);
  }
  auto by_second = reopen(Credential{"second", false});
  EXPECT_EQ(by_second->opened_slot(), second);
  // Removal holds an exclusive lock: a backup's shared lock blocks it.
  {
    auto shared = RepoLock::acquire(*repo_, "backup", false);
    try {
      repo_->remove_key_slot(second);
      FAIL() << "removed a slot while a backup held a lock";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kLocked);
    }
  }
  repo_->remove_key_slot(second);
  EXPECT_EQ(repo_->list_key_slots().size(), 1u);
  EXPECT_TRUE(repo_->list_objects(ObjectKind::kLock).empty());  // the lock is gone again
  EXPECT_THROW(reopen(Credential{"second", false}), Error);
}

TEST_F(FacadeTest, KeyFileSlots) {
  std::string secret = generate_key_file_secret();
  std::string id = repo_->add_key_slot(Credential{secret, true});
  auto by_file = reopen(Credential{secret, true});
  EXPECT_EQ(by_file->opened_slot(), id);
  auto slots = repo_->list_key_slots();
  ASSERT_EQ(slots.size(), 2u);
  EXPECT_EQ(slots[1].kdf, "key");
}

TEST_F(FacadeTest, ListManifestsNeverSkipsADamagedOne) {
  std::string older = save_backup(1000);
  std::string newer = save_backup(2000);
  EXPECT_EQ(repo_->resolve_backup("latest"), newer);
  damage(manifest_key(newer));
  // `latest` must not quietly become the older backup.
  try {
    repo_->resolve_backup("latest");
    FAIL() << "latest resolved although the newest manifest is damaged";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
    EXPECT_NE(std::string(e.what()).find(newer), std::string::npos) << e.what();
  }
  EXPECT_THROW(repo_->list_manifests(), Error);
  ManifestScan scan = repo_->scan_manifests();
  ASSERT_EQ(scan.readable.size(), 1u);
  EXPECT_EQ(scan.readable[0].id, older);
  ASSERT_EQ(scan.damaged.size(), 1u);
  EXPECT_EQ(scan.damaged[0].id, newer);
  EXPECT_FALSE(scan.damaged[0].error.empty());
  EXPECT_EQ(repo_->resolve_backup(older.substr(0, 8)), older);  // an explicit id still works
}

TEST_F(FacadeTest, WriteStatsCountPerOperation) {
  repo_->load_index();
  Bytes a = random_bytes(100000), b = random_bytes(50000);
  WriteStats first, second;
  auto sa = repo_->store_chunk(BlobType::kData, a, std::nullopt, &first);
  repo_->store_chunk(BlobType::kData, a, std::nullopt, &second);  // deduplicated
  auto sb = repo_->store_chunk(BlobType::kData, b, std::nullopt, &second);
  EXPECT_EQ(first.added_bytes.load(), sa.ref.stored_length);
  EXPECT_EQ(first.added_chunks.load(), 1u);
  EXPECT_EQ(second.added_bytes.load(), sb.ref.stored_length);
  EXPECT_EQ(second.added_chunks.load(), 1u);
  EXPECT_EQ(second.stored_chunks.load(), 2u);
}

TEST_F(FacadeTest, ObjectsByKindAndAuthenticatedCopies) {
  repo_->load_index();
  repo_->store_chunk(BlobType::kData, random_bytes(70000));
  std::string id = save_backup(1);
  auto packs = repo_->list_objects(ObjectKind::kPack);
  ASSERT_EQ(packs.size(), 1u);
  EXPECT_EQ(packs[0].name().size(), 64u);
  EXPECT_EQ(repo_->list_objects(ObjectKind::kIndex).size(), 1u);
  auto manifests = repo_->list_objects(ObjectKind::kManifest);
  ASSERT_EQ(manifests.size(), 1u);
  EXPECT_EQ(manifests[0].name(), id);
  // read_pack_range serves the stored bytes.
  EXPECT_EQ(repo_->read_pack_range(packs[0].name(), 0, 16), mem_->get(packs[0].key, 0, 16));

  storage::MemoryStorage target("target", dir_.path());
  EXPECT_EQ(repo_->copy_object_to(packs[0], target), packs[0].size);
  EXPECT_EQ(target.get(packs[0].key), mem_->get(packs[0].key));
  EXPECT_EQ(repo_->copy_object_to(packs[0], target), packs[0].size);  // already there: fine
  damage(manifests[0].key);
  EXPECT_THROW(repo_->copy_object_to(manifests[0], target), Error);
  EXPECT_FALSE(target.stat(manifests[0].key));  // damage is not spread
  EXPECT_FALSE(stored_repository_id(target));
  repo_->copy_object_to(repo_->list_objects(ObjectKind::kConfig)[0], target);
  EXPECT_EQ(stored_repository_id(target), repo_->config().id);
  // A ref whose key does not belong to its kind is refused.
  ObjectRef wrong{ObjectKind::kPack, manifests[0].key, 1};
  EXPECT_THROW(repo_->copy_object_to(wrong, target), Error);
}

TEST_F(FacadeTest, StorageFaultsReachTheCaller) {
  repo_->load_index();
  fault_->configure({{storage::FaultRule{{storage::StorageOp::kPutFile},
                                         "data/",
                                         storage::FaultRule::Action::kError,
                                         Errc::kTransient}}});
  repo_->store_chunk(BlobType::kData, random_bytes(1000));
  EXPECT_THROW(repo_->flush(), Error);  // the pack cannot be published
  EXPECT_TRUE(list_objects(*mem_, ObjectKind::kPack).empty());
  EXPECT_TRUE(list_objects(*mem_, ObjectKind::kIndex).empty());
  EXPECT_EQ(fault_->injected(), 1u);

  // A backend that answers short is caught by authentication, never read as data.
  fault_->configure({});
  Bytes content = random_bytes(3000);
  auto stored = repo_->store_chunk(BlobType::kData, content);
  repo_->flush();
  EXPECT_EQ(repo_->read_chunk(stored.ref.id), content);
  fault_->configure({{storage::FaultRule{
      {storage::StorageOp::kGet}, "data/", storage::FaultRule::Action::kShortRead}}});
  try {
    repo_->read_chunk(stored.ref.id);
    FAIL() << "a short read was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
  }
}

}  // namespace
}  // namespace sr::repo

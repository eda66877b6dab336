#include "repo/repository.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <thread>

#include "base/fs.h"
#include "base/random.h"
#include "repo/envelope.h"
#include "repo/index_file.h"
#include "repo/lock.h"
#include "repo/pack.h"
#include "repo/tree_stream.h"
#include "storage/memory_storage.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::repo {
namespace {

class RepositoryTest : public ::testing::Test {
 protected:
  void SetUp() override { sr::testing::init_test_repository(dir_); }
  std::string url() { return dir_ / "repo"; }
  std::unique_ptr<Repository> open_with(const Credential& c) {
    return Repository::open(std::make_unique<storage::LocalStorage>(url()), c,
                            sr::testing::test_repo_options(dir_));
  }
  std::unique_ptr<Repository> open_with(const std::string& pw) {
    return open_with(Credential{pw, false});
  }
  std::unique_ptr<Repository> open_repo() { return open_with("pw"); }
  sr::testing::TempDir dir_;
};

TEST_F(RepositoryTest, InitTwiceFails) {
  storage::LocalStorage s(url());
  EXPECT_THROW(Repository::init(s, "pw", {}), Error);
}

TEST_F(RepositoryTest, WrongPasswordIsAnAuthError) {
  try {
    open_with("not the password");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kAuth);
    EXPECT_EQ(std::string(e.what()).find("not the password"), std::string::npos);
  }
}

TEST_F(RepositoryTest, SecondKeySlotOpensTheSameRepository) {
  auto r = open_repo();
  add_key_slot(r->storage(), r->keys(), "second", {1024, 8, 1});
  auto r2 = open_with("second");
  EXPECT_EQ(r2->config().id, r->config().id);
  EXPECT_EQ(r2->keys().id_key, r->keys().id_key);
  EXPECT_EQ(list_key_slots(r->storage()).size(), 2u);
}

TEST_F(RepositoryTest, StoredChunksDeduplicateAndReadBackAfterReopen) {
  Bytes a(300000, 'a'), b = random_bytes(200000);
  codec::ChunkId ida, idb;
  {
    auto r = open_repo();
    r->load_index();
    auto sa = r->store_chunk(BlobType::kData, a);
    auto sb = r->store_chunk(BlobType::kData, b);
    auto sa2 = r->store_chunk(BlobType::kData, a);
    EXPECT_TRUE(sa.added);
    EXPECT_TRUE(sb.added);
    EXPECT_FALSE(sa2.added);
    EXPECT_LT(sa.ref.stored_length, a.size() / 10);  // compressed
    EXPECT_GT(sb.ref.stored_length, b.size());       // stored raw (+ nonce and tag)
    r->flush();
    ida = sa.ref.id;
    idb = sb.ref.id;
  }
  auto r = open_repo();
  r->load_index();
  EXPECT_EQ(r->read_chunk(ida), a);
  EXPECT_EQ(r->read_chunk(idb), b);
  EXPECT_FALSE(r->store_chunk(BlobType::kData, a).added);  // known from the index object
  codec::ChunkId unknown{};
  EXPECT_FALSE(r->lookup(unknown).has_value());
}

// copy_blob (prune's repack) moves a blob into a new pack as stored: same flags, same
// compressed payload, sealed with the new pack's key; a damaged blob is refused.
TEST_F(RepositoryTest, CopiedBlobReadsBackFromItsNewPack) {
  Bytes a(300000, 'a'), b = random_bytes(5000);
  codec::ChunkId ida, idb;
  std::string old_pack;
  {
    auto r = open_repo();
    r->load_index();
    ida = r->store_chunk(BlobType::kData, a).ref.id;
    idb = r->store_chunk(BlobType::kData, b).ref.id;
    r->flush();
  }
  {
    auto r = open_repo();
    r->load_index();
    auto la = r->lookup(ida), lb = r->lookup(idb);
    ASSERT_TRUE(la && lb);
    old_pack = la->pack;
    Bytes sa = r->read_pack_range(la->pack, la->offset, la->length);
    Bytes damaged = sa;
    damaged[damaged.size() / 2] ^= 1;
    EXPECT_THROW(r->copy_blob(ida, *la, damaged), Error);
    repo::WriteStats stats;
    EXPECT_TRUE(r->copy_blob(ida, *la, sa, &stats));
    EXPECT_EQ(stats.added_bytes.load(), la->length);  // still compressed: same size
    EXPECT_TRUE(
        r->copy_blob(idb, *lb, r->read_pack_range(lb->pack, lb->offset, lb->length), &stats));
    r->flush();
  }
  ASSERT_TRUE(std::filesystem::remove(std::filesystem::path(url()) / pack_object_key(old_pack)));
  auto r = open_repo();
  r->load_index();
  auto la = r->lookup_present(ida);
  ASSERT_TRUE(la);
  EXPECT_NE(la->pack, old_pack);
  EXPECT_EQ(r->read_chunk(ida), a);
  EXPECT_EQ(r->read_chunk(idb), b);
}

TEST_F(RepositoryTest, IndexCacheIsRebuiltWhenDeleted) {
  codec::ChunkId id;
  {
    auto r = open_repo();
    r->load_index();
    id = r->store_chunk(BlobType::kData, as_bytes("hello")).ref.id;
    r->flush();
  }
  std::filesystem::remove_all(dir_ / "cache");
  auto r = open_repo();
  r->load_index();
  EXPECT_EQ(r->read_chunk(id), Bytes(as_bytes("hello").begin(), as_bytes("hello").end()));
}

TEST_F(RepositoryTest, PackAndIndexRoundTrip) {
  auto r = open_repo();
  r->load_index();
  r->store_chunk(BlobType::kData, as_bytes("one"));
  r->store_chunk(BlobType::kData, as_bytes("two"));
  r->flush();
  std::vector<std::string> packs;
  r->storage().list("data/", [&](const storage::ObjectInfo& o) { packs.push_back(o.key); });
  ASSERT_EQ(packs.size(), 1u);
  std::string name = packs[0].substr(packs[0].rfind('/') + 1);
  PackInfo info = parse_pack(r->keys(), name, r->storage().get(packs[0]));
  EXPECT_EQ(info.blobs.size(), 2u);
  Bytes enc = encode_index({info});
  auto back = decode_index(enc, "index");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].name, name);
  EXPECT_EQ(back[0].blobs.size(), 2u);
  EXPECT_EQ(back[0].blobs[1].offset, info.blobs[1].offset);
  // A pack renamed to another name fails authentication of its key.
  EXPECT_THROW(parse_pack(r->keys(), std::string(64, 'a'), r->storage().get(packs[0])), Error);
  // Truncated index payloads are reported, not misread.
  for (size_t n = 0; n < enc.size(); ++n)
    EXPECT_THROW(decode_index(ByteSpan(enc).first(n), "index"), Error) << n;
}

TEST_F(RepositoryTest, EnvelopeIsBoundToItsName) {
  auto r = open_repo();
  Bytes obj = seal_envelope(r->keys(), EnvelopeKind::kManifest, "manifests/a", as_bytes("{}"));
  EXPECT_EQ(open_envelope(r->keys(), EnvelopeKind::kManifest, "manifests/a", obj).size(), 2u);
  EXPECT_THROW(open_envelope(r->keys(), EnvelopeKind::kManifest, "manifests/b", obj), Error);
  EXPECT_THROW(open_envelope(r->keys(), EnvelopeKind::kIndex, "manifests/a", obj), Error);
}

TEST_F(RepositoryTest, ManifestRoundTripKeepsUnknownFields) {
  auto r = open_repo();
  r->load_index();
  Manifest m;
  m.type = "files";
  m.time_ns = 1764000000000000000;
  m.end_time_ns = m.time_ns + 5;
  m.paths = {"/srv"};
  m.tags = {"daily"};
  m.size = 42;
  m.extra["pg"] = {{"timeline", 3}};
  TreeWriter t(*r);
  Entry e;
  e.kind = EntryKind::kDir;
  e.path = "d";
  t.add(e);
  m.tree = t.finish();
  r->flush();
  std::string id = r->save_manifest(m);
  Manifest back = r->load_manifest(id);
  EXPECT_EQ(back.paths, m.paths);
  EXPECT_EQ(back.tags, m.tags);
  EXPECT_EQ(back.size, 42u);
  EXPECT_EQ(back.extra["pg"]["timeline"], 3);
  EXPECT_EQ(r->resolve_backup("latest"), id);
  EXPECT_EQ(r->resolve_backup(id.substr(0, 6)), id);
  EXPECT_THROW(r->resolve_backup("ffffffffffff"), Error);
  auto j = back.to_listing_json();
  EXPECT_EQ(j["time"], "2025-11-24T16:00:00Z");
}

TEST_F(RepositoryTest, TreeStreamRoundTripAcrossChunks) {
  auto r = open_repo();
  r->load_index();
  TreeWriter t(*r);
  std::vector<Entry> entries;
  // About 6 MiB of records: more than the chunker's 4 MiB maximum, so at least two tree chunks
  // whatever cut points this repository's random chunker seed gives repetitive records.
  for (int i = 0; i < 40000; ++i) {
    Entry e;
    e.kind = EntryKind::kFile;
    e.path = "dir/file-" + std::to_string(100000 + i) + std::string(100, 'x');
    e.mode = 0640;
    e.size = 10;
    ChunkRef c;
    c.id[0] = static_cast<uint8_t>(i);
    c.raw_length = 10;
    c.stored_length = 38;
    e.chunks.push_back(c);
    t.add(e);
    entries.push_back(e);
  }
  Manifest m;
  m.id = "test";
  m.tree = t.finish();
  EXPECT_GT(m.tree.size(), 1u);  // the stream spans several chunks
  r->flush();
  TreeReader reader(*r, m);
  size_t n = 0;
  while (auto e = reader.next()) {
    ASSERT_LT(n, entries.size());
    EXPECT_EQ(e->path, entries[n].path);
    EXPECT_EQ(e->chunks[0].id, entries[n].chunks[0].id);
    ++n;
  }
  EXPECT_EQ(n, entries.size());
}

TEST(Tree, PathValidationAndOrder) {
  EXPECT_TRUE(valid_relative_path("a/b c/\xff"));
  for (const char* bad : {"", "/etc/passwd", "../x", "a/../../x", "a//b", "a/./b", "a/", ".", ".."})
    EXPECT_FALSE(valid_relative_path(bad)) << bad;
  EXPECT_TRUE(path_less("a/b", "a-c"));  // a's children come before the sibling a-c
  EXPECT_TRUE(path_less("a", "a/b"));
  EXPECT_FALSE(path_less("b", "a/z"));
  Entry e;
  e.kind = EntryKind::kFile;
  e.path = "../escape";
  ByteWriter w;
  encode_entry(e, w);
  EXPECT_THROW(decode_entry(w.buffer(), "tree"), Error);
}

TEST_F(RepositoryTest, LocksConflictAndStaleOnesAreIgnored) {
  auto r = open_repo();
  {
    auto shared1 = RepoLock::acquire(*r, "backup", false);
    auto shared2 = RepoLock::acquire(*r, "backup", false);
    try {
      RepoLock::acquire(*r, "prune", true);
      FAIL() << "exclusive lock taken while shared locks are held";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kLocked);
      EXPECT_NE(std::string(e.what()).find("backup"), std::string::npos);
    }
  }
  EXPECT_TRUE(RepoLock::list(*r).empty());  // released, including the failed attempt's own lock
  // A lock of another host whose clock says 31 minutes ago is not stale on that word alone
  // (clocks of hosts need not agree): it blocks until this reader saw it unchanged for the
  // stale interval (short here) between two observations.
  nlohmann::json j = {{"host", "elsewhere"},
                      {"pid", 1},
                      {"operation", "backup"},
                      {"exclusive", true},
                      {"time_ns", 1}};
  std::string key = "locks/" + random_hex(16);
  j["time_ns"] = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count()) -
                 31LL * 60 * 1000000000;
  r->storage().put(key, seal_envelope(r->keys(), EnvelopeKind::kLock, key, as_bytes(j.dump())));
  LockTiming quick;
  quick.stale_after = std::chrono::milliseconds(50);
  EXPECT_THROW(RepoLock::acquire(*r, "prune", true, nullptr, quick), Error);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  {
    auto lock = RepoLock::acquire(*r, "prune", true, nullptr, quick);
    EXPECT_EQ(lock->stale_seen().size(), 1u);
  }
  EXPECT_EQ(RepoLock::remove_stale(*r, quick), 1u);
  // A fresh exclusive lock of another host blocks a backup.
  j["time_ns"] = static_cast<int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                          std::chrono::system_clock::now().time_since_epoch())
                                          .count());
  r->storage().put(key, seal_envelope(r->keys(), EnvelopeKind::kLock, key, as_bytes(j.dump())));
  EXPECT_THROW(RepoLock::acquire(*r, "backup", false), Error);
}

}  // namespace
}  // namespace sr::repo

namespace sr::repo {
namespace {
TEST_F(RepositoryTest, KeyFileSlotsOpenWithoutThePassword) {
  auto r = open_repo();
  std::string secret = generate_key_file_secret();
  add_key_slot(r->storage(), r->keys(), Credential{secret, true});
  auto by_key = open_with(Credential{secret, true});
  EXPECT_EQ(by_key->keys().newest().meta_key, r->keys().newest().meta_key);
  // Another key, or the key's text used as a password, opens nothing.
  try {
    open_with(Credential{generate_key_file_secret(), true});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kAuth);
  }
  EXPECT_THROW(open_with(std::string(secret)), Error);
  EXPECT_THROW(open_with(Credential{"not base64!", true}), Error);
}
}  // namespace
}  // namespace sr::repo

namespace sr::repo {
namespace {

// The outer config object is read before anything is authenticated: a hostile one (found by
// fuzz/key_slot_fuzz: a JSON number) is a clear kCorrupt error, not a json type_error.
TEST(RepositoryConfig, HostileOuterObjectsAreCorrupt) {
  for (const char* config : {"4", "[]", "{\"format\": 7}", "{\"format\": \"other\"}", "null"}) {
    auto store = std::make_unique<storage::MemoryStorage>("hostile", "/tmp");
    store->put("config", as_bytes(std::string(config)));
    try {
      Repository::open(std::move(store), Credential{"pw", false}, RepoOptions{"/tmp/sr-cfg-test"});
      ADD_FAILURE() << config << " opened";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kCorrupt) << config << ": " << e.what();
    }
  }
}

}  // namespace
}  // namespace sr::repo

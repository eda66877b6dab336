// Key rotation and write-only keys at the repository level (issue 10, items 12 and 13): after a
// rotation the removed password opens nothing and the old key material decrypts no pack, WAL
// object or manifest written after it, while every older object stays readable; old-format
// slots still open, are upgraded in place, and block rotation (named) until then; a crash
// between the new ring and the slots leaves every slot able to open a ring; a writer key file
// writes backups and WAL that it cannot read back.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "base/random.h"
#include "repo/envelope.h"
#include "repo/keys_ring.h"
#include "repo/pack.h"
#include "repo/repository.h"
#include "repo/wal_store.h"
#include "storage/fault_storage.h"
#include "storage/memory_storage.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::repo {
namespace {

using nlohmann::json;
constexpr codec::ScryptParams kFast{1024, 8, 1};
const std::string kWal = "000000010000000000000003";

class KeyRotationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mem = std::make_unique<storage::MemoryStorage>("rot", dir_.path());
    mem_ = mem.get();
    Repository::init(*mem, "pw", sr::testing::fast_init_options());
    auto fault = std::make_unique<storage::FaultStorage>(std::move(mem));
    fault_ = fault.get();
    shared_ = std::move(fault);
  }
  // Opens through a storage that forwards to the one repository (a new object each call).
  std::unique_ptr<Repository> open(const Credential& c) {
    return Repository::open(std::make_unique<Forward>(*shared_), c, RepoOptions{});
  }
  std::unique_ptr<Repository> open(const std::string& pw) { return open(Credential{pw, false}); }
  // A backup with a genuine chunk, then a write-only host's pack (sealed to the restore key) that
  // puts other content under the same id, indexed: the genuine id and the forged blob's place.
  std::pair<codec::ChunkId, ChunkLocation> forge_chunk() {
    auto r = open("pw");
    std::string text = r->writer_key_text();
    codec::ChunkId genuine = write_backup(*r, "the genuine ledger page").second;
    auto w = open(Credential{text, true});
    PackWriter pw(w->keys(), mem_->staging_dir());
    const std::string forged = "a forged ledger page";
    const BlobEntry& e = pw.append(genuine, BlobType::kData, 0, as_bytes(forged),
                                   static_cast<uint32_t>(forged.size()));
    ChunkLocation loc{pw.name(), BlobType::kData, 0, e.offset, e.length, e.raw_length};
    PackInfo info = pw.finish(*mem_);
    w->write_index_object({info});
    return {genuine, loc};
  }

  struct Forward final : storage::Storage {
    explicit Forward(storage::Storage& s) : s_(s) {}
    std::string describe() const override { return s_.describe(); }
    bool supports_conditional_put() const override { return s_.supports_conditional_put(); }
    void put(const std::string& k, ByteSpan d, bool a) override { s_.put(k, d, a); }
    void put_file(const std::string& k, const std::string& p, bool a) override {
      s_.put_file(k, p, a);
    }
    Bytes get(const std::string& k, uint64_t o, std::optional<uint64_t> n) override {
      return s_.get(k, o, n);
    }
    std::optional<storage::ObjectInfo> stat(const std::string& k) override { return s_.stat(k); }
    void list(const std::string& p,
              const std::function<void(const storage::ObjectInfo&)>& v) override {
      s_.list(p, v);
    }
    void remove(const std::string& k) override { s_.remove(k); }
    void create_if_missing() override { s_.create_if_missing(); }
    std::string staging_dir() override { return s_.staging_dir(); }
    storage::Storage& s_;
  };

  // Stores one chunk and a manifest referencing it; returns the manifest id and the chunk id.
  std::pair<std::string, codec::ChunkId> write_backup(Repository& r, const std::string& text) {
    auto stored = r.store_chunk(BlobType::kData, as_bytes(text));
    r.flush();
    Manifest m;
    m.type = "files";
    m.tree = {to_hex(stored.ref.id)};
    return {r.save_manifest(m), stored.ref.id};
  }

  sr::testing::TempDir dir_;
  storage::MemoryStorage* mem_ = nullptr;
  storage::FaultStorage* fault_ = nullptr;
  std::unique_ptr<storage::Storage> shared_;
};

TEST_F(KeyRotationTest, RemoveAndRotateLocksOutTheRemovedPasswordAndTheOldKeys) {
  auto r = open("pw");
  std::string second = r->add_key_slot(Credential{"second", false}, kFast);
  auto [old_backup, old_chunk] = write_backup(*r, "written before the rotation");
  WalStore(*r, "main").push(kWal, as_bytes("wal before"));

  auto removed = open("second");
  KeySet stolen = removed->keys();  // what the removed holder copied before the rotation
  r->remove_key_slot(second);
  EXPECT_EQ(r->rotate_keys(), 1u);
  EXPECT_EQ(r->keys().newest().number, 1u);

  // The removed password opens nothing.
  try {
    open("second");
    FAIL() << "the removed password still opens the repository";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kAuth);
  }
  // What is written after the rotation uses generation 1, which the old material lacks.
  auto [new_backup, new_chunk] = write_backup(*r, "written after the rotation");
  WalStore(*r, "main").push("000000010000000000000004", as_bytes("wal after"));
  std::string mkey = "manifests/" + new_backup;
  EXPECT_THROW(open_envelope(stolen, EnvelopeKind::kManifest, mkey, mem_->get(mkey)), Error);
  std::string wkey = WalStore(*r, "main").object_key("000000010000000000000004");
  EXPECT_THROW(open_wal_object(stolen, wkey, mem_->get(wkey)), Error);
  auto loc = r->lookup(new_chunk);
  ASSERT_TRUE(loc);
  Bytes pack = mem_->get(pack_object_key(loc->pack));
  EXPECT_THROW(parse_pack(stolen, loc->pack, pack), Error);
  // Even a key set claiming generation 1 with the old keys fails authentication.
  KeySet forged = stolen;
  KeyGeneration& g = forged.generations.emplace_back();
  g.number = 1;
  g.meta_key = stolen.newest().meta_key;
  g.data_key = stolen.newest().data_key;
  EXPECT_THROW(parse_pack(forged, loc->pack, pack), Error);
  EXPECT_THROW(open_envelope(forged, EnvelopeKind::kManifest, mkey, mem_->get(mkey)), Error);

  // The remaining password reads old and new.
  auto again = open("pw");
  EXPECT_EQ(again->keys().generations.size(), 2u);
  again->load_index();
  EXPECT_EQ(to_hex(again->read_chunk(old_chunk)), to_hex(as_bytes("written before the rotation")));
  EXPECT_EQ(to_hex(again->read_chunk(new_chunk)), to_hex(as_bytes("written after the rotation")));
  EXPECT_EQ(again->load_manifest(old_backup).id, old_backup);
  EXPECT_EQ(again->load_manifest(new_backup).id, new_backup);
  EXPECT_EQ(to_hex(*WalStore(*again, "main").get(kWal)), to_hex(as_bytes("wal before")));
  // Only the ring the slots name is left.
  size_t rings = 0;
  mem_->list("keys/", [&](const storage::ObjectInfo& o) { rings += is_ring_object(o.key); });
  EXPECT_EQ(rings, 1u);
}

TEST_F(KeyRotationTest, ACrashBetweenTheRingAndTheSlotsLeavesEverySlotOpening) {
  auto r = open("pw");
  r->add_key_slot(Credential{"second", false}, kFast);
  r->add_key_slot(Credential{"third", false}, kFast);
  // The new ring is written, then the second slot rewrite fails.
  fault_->configure({{storage::FaultRule{{storage::StorageOp::kPut},
                                         "keys/",
                                         storage::FaultRule::Action::kError,
                                         Errc::kTransient,
                                         2,
                                         0}}});
  EXPECT_THROW(r->rotate_keys(), Error);
  fault_->configure({});
  for (const char* pw : {"pw", "second", "third"}) EXPECT_NO_THROW(open(pw)) << pw;
  // A second rotation completes and cleans up the rings nothing names.
  auto again = open("pw");
  uint32_t gen = again->rotate_keys();
  for (const char* pw : {"pw", "second", "third"})
    EXPECT_EQ(open(pw)->keys().newest().number, gen) << pw;
  size_t rings = 0;
  mem_->list("keys/", [&](const storage::ObjectInfo& o) { rings += is_ring_object(o.key); });
  EXPECT_EQ(rings, 1u);
}

// A version 1 repository as older binaries made it: an old-format slot, config version 1.
void make_legacy_repository(storage::Storage& s, const std::string& pw) {
  KeySet keys = KeySet::generate();  // no ring: add_key_slot writes an old-format slot
  add_key_slot(s, keys, Credential{pw, false}, kFast);
  json inner = {{"id", std::string(32, 'a')},
                {"version", 1},
                {"chunker", {{"min", 512 << 10}, {"avg", 1 << 20}, {"max", 8 << 20}}},
                {"compression_level", 3},
                {"pack_size", 32 << 20}};
  Bytes sealed = seal_envelope(keys, EnvelopeKind::kConfig, "config", as_bytes(inner.dump()));
  ASSERT_EQ(std::string(sealed.begin(), sealed.begin() + 4), "SRE1");
  json outer = {{"format", "strongroom"},
                {"version", 1},
                {"id", std::string(32, 'a')},
                {"sealed", base64_encode(sealed)}};
  s.put("config", as_bytes(outer.dump()), true);
}

TEST_F(KeyRotationTest, OldFormatSlotsOpenBlockRotationByNameAndUpgradeInPlace) {
  storage::MemoryStorage legacy("legacy", dir_.path());
  make_legacy_repository(legacy, "old");
  auto r = Repository::open(std::make_unique<Forward>(legacy), Credential{"old", false});
  EXPECT_TRUE(r->keys().ring_id.empty());
  std::string other = r->add_key_slot(Credential{"other", false}, kFast);  // old format too
  EXPECT_EQ(json::parse(as_chars(legacy.get("config")))["version"], 1);
  auto [backup, chunk] = write_backup(*r, "written to a version 1 repository");
  // The first version 2 pack raised the config's version: older binaries refuse it clearly.
  EXPECT_EQ(json::parse(as_chars(legacy.get("config")))["version"], 2);
  try {
    r->rotate_keys();
    FAIL() << "rotated with an old-format slot it cannot re-key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    EXPECT_NE(std::string(e.what()).find(other), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("key upgrade"), std::string::npos) << e.what();
  }
  // The opener's own slot was upgraded on the way (it knows its password).
  auto o = Repository::open(std::make_unique<Forward>(legacy), Credential{"other", false});
  EXPECT_TRUE(o->upgrade_key_slot());
  EXPECT_FALSE(o->upgrade_key_slot());
  uint32_t gen = o->rotate_keys();
  EXPECT_EQ(gen, 1u);
  for (const char* pw : {"old", "other"}) {
    auto x = Repository::open(std::make_unique<Forward>(legacy), Credential{pw, false});
    EXPECT_EQ(x->keys().newest().number, gen);
    x->load_index();
    EXPECT_EQ(to_hex(x->read_chunk(chunk)), to_hex(as_bytes("written to a version 1 repository")));
  }
}

TEST_F(KeyRotationTest, AWriterKeyWritesButCannotRead) {
  auto r = open("pw");
  auto [before, before_chunk] = write_backup(*r, "written before the writer key existed");
  std::string text = r->writer_key_text();
  EXPECT_EQ(r->keys().newest().number, 1u);  // a generation with a restore key pair
  ASSERT_TRUE(r->keys().newest().restore_public);
  EXPECT_EQ(text.find(base64_encode(r->keys().newest().data_key)), std::string::npos);
  EXPECT_EQ(text.find(base64_encode(*r->keys().newest().restore_private)), std::string::npos);
  EXPECT_EQ(text.find(base64_encode(r->keys().generations[0].data_key)), std::string::npos);

  auto w = open(Credential{text, true});
  EXPECT_TRUE(w->write_only());
  w->load_index();
  auto [after, after_chunk] = write_backup(*w, "written by the write-only host");
  WalStore(*w, "main").push(kWal, as_bytes("wal from the writer"));
  // A retried push of the same content is accepted; different content is refused.
  EXPECT_EQ(WalStore(*w, "main").push(kWal, as_bytes("wal from the writer")),
            WalStore::PushResult::kAlreadyStored);
  EXPECT_THROW(WalStore(*w, "main").push(kWal, as_bytes("other")), Error);
  EXPECT_EQ(w->load_manifest(after).id, after);  // metadata is readable
  for (const auto& id : {before_chunk, after_chunk}) {
    try {
      w->read_chunk(id);
      FAIL() << "a write-only key read a chunk";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kAuth);
      EXPECT_NE(std::string(e.what()).find("write-only key"), std::string::npos);
    }
  }
  EXPECT_THROW(WalStore(*w, "main").get(kWal), Error);
  EXPECT_THROW(w->add_key_slot(Credential{"x", false}, kFast), Error);
  EXPECT_THROW(w->rotate_keys(), Error);

  // A full key reads everything; full writers now seal to the restore key too.
  auto full = open("pw");
  full->load_index();
  EXPECT_EQ(to_hex(full->read_chunk(after_chunk)),
            to_hex(as_bytes("written by the write-only host")));
  EXPECT_EQ(to_hex(*WalStore(*full, "main").get(kWal)), to_hex(as_bytes("wal from the writer")));
  // A writer key file of another repository is refused.
  json j = json::parse(text);
  j["repository"] = std::string(32, 'b');
  EXPECT_THROW(open(Credential{j.dump(), true}), Error);
}

// Rotation seals the new ring key only to slots a holder of the data keys made: a slot planted by
// someone who can write keys/ (a write-only host, the storage) stops the rotation, named, before
// anything is written, instead of receiving every key.
TEST_F(KeyRotationTest, RotationRefusesAPlantedSlot) {
  auto r = open("pw");
  codec::X25519Pair attacker = codec::x25519_generate();
  const std::string planted = std::string(32, 'e');
  json slot = {{"version", 2},
               {"kdf", "scrypt"},
               {"n", 1024},
               {"r", 8},
               {"p", 1},
               {"salt", base64_encode(random_bytes(32))},
               {"public", base64_encode(attacker.pub)},
               {"sealed", base64_encode(random_bytes(64))},
               {"commit", base64_encode(random_bytes(32))},
               {"approval", base64_encode(random_bytes(32))}};
  mem_->put("keys/" + planted, as_bytes(slot.dump()), true);
  auto rings = [&] {
    size_t n = 0;
    mem_->list("keys/ring.", [&](const storage::ObjectInfo&) { ++n; });
    return n;
  };
  const size_t rings_before = rings();
  try {
    r->rotate_keys();
    FAIL() << "rotation gave a planted slot the new ring key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
    EXPECT_NE(std::string(e.what()).find(planted), std::string::npos) << e.what();
  }
  EXPECT_EQ(rings(), rings_before);  // nothing written
  json after = json::parse(as_chars(mem_->get("keys/" + planted)));
  EXPECT_FALSE(after.contains("ring_key"));
  mem_->remove("keys/" + planted);
  EXPECT_EQ(r->rotate_keys(), 1u);  // the operator removed it: rotation proceeds
}

// A key command works from the keys it opened; when another command rotated them meanwhile, it
// refuses (kLocked) instead of rotating from stale keys or sealing a slot to a removed ring.
TEST_F(KeyRotationTest, KeyCommandsRefuseKeysThatChangedMeanwhile) {
  auto a = open("pw");
  auto b = open("pw");
  EXPECT_EQ(a->rotate_keys(), 1u);
  for (auto attempt : {0, 1}) {
    try {
      if (attempt == 0)
        b->rotate_keys();
      else
        b->add_key_slot(Credential{"second", false}, kFast);
      FAIL() << "stale keys accepted (attempt " << attempt << ")";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kLocked) << e.what();
    }
  }
  auto c = open("pw");
  EXPECT_EQ(c->keys().newest().number, 1u);
  c->add_key_slot(Credential{"second", false}, kFast);
  EXPECT_EQ(open("second")->keys().newest().number, 1u);
}

// A write-only host can make packs sealed to the restore key, so it could put other content
// under an existing chunk's id: reads from such packs recompute the keyed id and refuse.
TEST_F(KeyRotationTest, ChunksFromPacksSealedToTheRestoreKeyAreCheckedAgainstTheirIds) {
  auto [genuine, loc] = forge_chunk();
  auto full = open("pw");
  full->load_index();
  try {
    full->read_blob(genuine, loc);
    FAIL() << "a substituted chunk was read as genuine";
  } catch (const Error& err) {
    EXPECT_EQ(err.code(), Errc::kCorrupt);
    EXPECT_NE(std::string(err.what()).find("does not match its id"), std::string::npos);
  }
  // The genuine chunk (also in a pack sealed to the restore key) passes the same check.
  auto real = full->lookup(genuine);
  ASSERT_TRUE(real);
  if (real->pack != loc.pack) {
    EXPECT_EQ(to_hex(full->read_blob(genuine, *real)), to_hex(as_bytes("the genuine ledger page")));
  }
}

// Prune's repack copies blobs without decompressing them, except from packs sealed to the
// restore key: there the substituted chunk is refused instead of being carried into a pack
// sealed with a full key, where it would no longer be checked.
TEST_F(KeyRotationTest, RepackRefusesASubstitutedChunkFromAPackSealedToTheRestoreKey) {
  auto [genuine, loc] = forge_chunk();
  auto full = open("pw");
  full->load_index();
  Bytes sealed = full->read_pack_range(loc.pack, loc.offset, loc.length);
  EXPECT_THROW(full->copy_blob(genuine, loc, sealed), Error);
  // The genuine chunk of the full writer's pack copies (lookup may name either pack).
  int copied = 0;
  full->index().for_each_pack([&](const std::string& name, uint64_t) {
    if (name == loc.pack) return;
    full->index().for_each_chunk_in_pack(
        name, [&](const codec::ChunkId& id, const ChunkLocation& l) {
          if (id != genuine) return;
          Bytes good = full->read_pack_range(l.pack, l.offset, l.length);
          EXPECT_TRUE(full->copy_blob(genuine, l, good));
          EXPECT_FALSE(full->copy_blob(genuine, l, good));  // already copied by this process
          ++copied;
        });
  });
  EXPECT_EQ(copied, 1);
}

}  // namespace
}  // namespace sr::repo

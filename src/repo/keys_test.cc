// Key slots read as hostile input (issue 10, defect 6): the minimum scrypt cost, the key
// commitment, "not this slot" for any bad plaintext, printable host/user names, wiped keys.
#include "repo/keys.h"

#include <gtest/gtest.h>

#include <new>
#include <nlohmann/json.hpp>

#include "base/random.h"
#include "storage/memory_storage.h"

namespace sr::repo {
namespace {

using nlohmann::json;

constexpr codec::ScryptParams kFast{1024, 8, 1};

std::string key_set_plain(const KeySet& k) {
  return json{{"id_key", base64_encode(k.id_key)},
              {"meta_key", base64_encode(k.newest().meta_key)},
              {"data_key", base64_encode(k.newest().data_key)},
              {"chunker_seed", base64_encode(k.chunker_seed)}}
      .dump();
}

// A slot as strongroom wrote it before the key commitment: `plain` sealed under scrypt(pw).
void put_legacy_slot(storage::Storage& s, const std::string& id, const std::string& pw,
                     const codec::ScryptParams& p, const std::string& plain,
                     const std::string& host = "h", const std::string& user = "u") {
  Bytes salt = random_bytes(32);
  codec::Key32 wrap = codec::derive_password_key(pw, salt, p);
  Bytes sealed = codec::seal(wrap, as_bytes(plain), as_bytes("strongroom key slot " + id));
  json slot = {{"version", 1},
               {"kdf", "scrypt"},
               {"n", p.n},
               {"r", p.r},
               {"p", p.p},
               {"salt", base64_encode(salt)},
               {"sealed", base64_encode(sealed)},
               {"created_ns", 1},
               {"host", host},
               {"user", user}};
  std::string text = slot.dump();
  s.put("keys/" + id, as_bytes(text), false);
}

json get_slot(storage::Storage& s, const std::string& id) {
  return json::parse(as_chars(s.get("keys/" + id)));
}

void put_slot(storage::Storage& s, const std::string& id, const json& slot) {
  std::string text = slot.dump();
  s.put("keys/" + id, as_bytes(text), false);
}

Errc open_error(storage::Storage& s, const std::string& pw, std::string* message = nullptr) {
  try {
    open_key_slots(s, pw);
  } catch (const Error& e) {
    if (message) *message = e.what();
    return e.code();
  }
  return Errc::kInternal;  // opened
}

const std::string kIdA(32, 'a');
const std::string kIdB(32, 'b');

TEST(KeySlots, SlotBelowTheMinimumScryptCostIsNotOpened) {
  storage::MemoryStorage s;
  KeySet k = KeySet::generate();
  put_legacy_slot(s, kIdA, "pw", {2, 1, 1}, key_set_plain(k));  // n=2: ~free to brute-force
  std::string message;
  EXPECT_EQ(open_error(s, "pw", &message), Errc::kAuth);
  EXPECT_NE(message.find("below the minimum"), std::string::npos) << message;
  EXPECT_NE(message.find(kIdA), std::string::npos) << message;
  put_legacy_slot(s, kIdB, "pw", {512, 8, 1}, key_set_plain(k));
  EXPECT_EQ(open_error(s, "pw"), Errc::kAuth);
}

TEST(KeySlots, NoSlotIsWrittenBelowTheMinimum) {
  storage::MemoryStorage s;
  KeySet k = KeySet::generate();
  EXPECT_THROW(add_key_slot(s, k, "pw", {2, 8, 1}), Error);
  EXPECT_THROW(add_key_slot(s, k, "pw", {1024, 1, 1}), Error);
  EXPECT_NO_THROW(add_key_slot(s, k, "pw", codec::kMinScrypt));
}

TEST(KeySlots, NewSlotsCarryACommitmentCheckedBeforeDecryption) {
  storage::MemoryStorage s;
  KeySet k = KeySet::generate();
  std::string id = add_key_slot(s, k, "pw", kFast);
  json slot = get_slot(s, id);
  ASSERT_TRUE(slot.contains("commit"));
  EXPECT_EQ(base64_decode(slot["commit"].get<std::string>()).size(), 32u);
  EXPECT_EQ(open_key_slots(s, "pw").first.newest().meta_key, k.newest().meta_key);
  // The ciphertext still opens under the password, but the commitment does not match: the
  // slot is not opened (the commitment, not AES-GCM, decides whether a slot is this password's).
  Bytes bad(32, 0x55);
  slot["commit"] = base64_encode(bad);
  put_slot(s, id, slot);
  EXPECT_EQ(open_error(s, "pw"), Errc::kAuth);
  // Parameters bound by the commitment: another (still acceptable) r with the right commit.
  slot = get_slot(s, id);
  s.remove("keys/" + id);
  id = add_key_slot(s, k, "pw", kFast);
  slot = get_slot(s, id);
  slot["r"] = 9;
  put_slot(s, id, slot);
  EXPECT_EQ(open_error(s, "pw"), Errc::kAuth);
}

TEST(KeySlots, SlotsWithoutACommitmentStillOpen) {
  storage::MemoryStorage s;
  KeySet k = KeySet::generate();
  put_legacy_slot(s, kIdA, "pw", kFast, key_set_plain(k));
  auto [opened, id] = open_key_slots(s, "pw");
  EXPECT_EQ(id, kIdA);
  EXPECT_EQ(opened.newest().data_key, k.newest().data_key);
  EXPECT_EQ(open_error(s, "other"), Errc::kAuth);
}

TEST(KeySlots, ABrokenKeySetIsNotThisSlotAndTheSearchGoesOn) {
  storage::MemoryStorage s;
  KeySet k = KeySet::generate();
  // Tried first (ids are sorted): opens with the password but holds no valid key set.
  put_legacy_slot(s, kIdA, "pw", kFast, "not json");
  put_legacy_slot(s, std::string(31, 'a') + "b", "pw", kFast,
                  R"({"id_key":"AAAA","meta_key":"AAAA","data_key":"AAAA","chunker_seed":"AAAA"})");
  put_legacy_slot(s, kIdB, "pw", kFast, key_set_plain(k));
  auto [opened, id] = open_key_slots(s, "pw");
  EXPECT_EQ(id, kIdB);
  EXPECT_EQ(opened.id_key, k.id_key);
}

TEST(KeySlots, AnOversizedSealedKeySetIsDamaged) {
  storage::MemoryStorage s;
  KeySet k = KeySet::generate();
  json plain = json::parse(key_set_plain(k));
  plain["padding"] = std::string(600, 'x');
  put_legacy_slot(s, kIdA, "pw", kFast, plain.dump());
  std::string message;
  EXPECT_EQ(open_error(s, "pw", &message), Errc::kAuth);
  EXPECT_NE(message.find("damaged"), std::string::npos) << message;
}

TEST(KeySlots, PrintableLabelReplacesControlsAndInvalidUtf8) {
  EXPECT_EQ(printable_label("host-1.example"), "host-1.example");
  EXPECT_EQ(printable_label("caf\xc3\xa9"), "caf\xc3\xa9");
  EXPECT_EQ(printable_label("a\x1b[2Jb\r\n\x7f"), "a?[2Jb???");
  EXPECT_EQ(printable_label("\xc2\x9b"
                            "31m"),
            "?31m");                                    // C1 CSI
  EXPECT_EQ(printable_label("x\xe2\x80\xaey"), "x?y");  // right-to-left override
  EXPECT_EQ(printable_label("\xff\xc0\xaf"
                            "ok"),
            "???ok");                                 // invalid, overlong
  EXPECT_EQ(printable_label("\xed\xa0\x80"), "???");  // surrogate
  EXPECT_EQ(printable_label(std::string(1000, 'x')).size(), 256u);
}

TEST(KeySlots, ListShowsHostAndUserWithoutControlCharacters) {
  storage::MemoryStorage s;
  KeySet k = KeySet::generate();
  put_legacy_slot(s, kIdA, "pw", kFast, key_set_plain(k), "evil\x1b]0;owned\x07\r\nhost",
                  "root\xc2\x9b"
                  "31m\x1b[0m");
  auto slots = list_key_slots(s);
  ASSERT_EQ(slots.size(), 1u);
  EXPECT_EQ(slots[0].host, "evil?]0;owned???host");
  EXPECT_EQ(slots[0].user, "root?31m?[0m");
}

TEST(KeySlots, AKeySetWipesItsKeysWhenDestroyed) {
  alignas(KeySet) unsigned char storage[sizeof(KeySet)];
  auto* k = new (storage) KeySet(KeySet::generate());
  k->ring_key = codec::random_key();
  std::vector<size_t> at;
  for (const codec::Key32* key : {&k->id_key, &k->chunker_seed, &k->ring_key})
    at.push_back(static_cast<size_t>(reinterpret_cast<const unsigned char*>(key) - storage));
  k->~KeySet();
  for (size_t off : at)
    for (size_t i = 0; i < 32; ++i) ASSERT_EQ(storage[off + i], 0);

  alignas(KeyGeneration) unsigned char gen[sizeof(KeyGeneration)];
  auto* g = new (gen) KeyGeneration();
  g->meta_key = codec::random_key();
  g->data_key = codec::random_key();
  g->restore_private = codec::random_key();
  at.clear();
  for (const codec::Key32* key : {&g->meta_key, &g->data_key, &*g->restore_private})
    at.push_back(static_cast<size_t>(reinterpret_cast<const unsigned char*>(key) - gen));
  g->~KeyGeneration();
  for (size_t off : at)
    for (size_t i = 0; i < 32; ++i) ASSERT_EQ(gen[off + i], 0);
}

}  // namespace
}  // namespace sr::repo

#include "repo/keys.h"

#include <pwd.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/json_util.h"
#include "base/random.h"
#include "base/time_util.h"
#include "repo/keys_ring.h"

namespace sr::repo {

using nlohmann::json;

KeyGeneration::~KeyGeneration() {
  codec::wipe(meta_key);
  codec::wipe(data_key);
  if (restore_private) codec::wipe(*restore_private);
}

KeySet KeySet::generate() {
  KeySet k;
  k.id_key = codec::random_key();
  k.chunker_seed = codec::random_key();
  KeyGeneration& g = k.generations.emplace_back();
  g.meta_key = codec::random_key();
  g.data_key = codec::random_key();
  return k;
}

const KeyGeneration& KeySet::generation(uint32_t number) const {
  for (const auto& g : generations)
    if (g.number == number) return g;
  throw Error(Errc::kCorrupt, "the object names key generation " + std::to_string(number) +
                                  ", which this key set does not have");
}

KeySet::~KeySet() {
  codec::wipe(id_key);
  codec::wipe(chunker_seed);
  codec::wipe(ring_key);
}

const char* const kWriteOnlyMessage =
    "this is a write-only key: restores need the restore key (open the repository with a "
    "password or key file that holds it)";

const codec::Key32& data_key_of(const KeySet& keys, uint32_t number) {
  const KeyGeneration& g = keys.generation(number);
  if (!g.has_data_key) throw Error(Errc::kAuth, kWriteOnlyMessage);
  return g.data_key;
}

bool is_ring_object(const std::string& key) { return key.rfind("keys/ring.", 0) == 0; }

namespace {

// The largest sealed secret a slot may hold: the key set's JSON is ~200 bytes. A bound on the
// ciphertext bounds how many keys one forged AES-GCM ciphertext can open under (FORMAT.md).
constexpr size_t kMaxSealed = 512;

std::string slot_aad(const std::string& id) { return "strongroom key slot " + id; }

std::string current_host() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string current_user() {
  if (struct passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}

codec::Key32 key_file_wrap(const std::string& secret, ByteSpan salt) {
  Bytes raw = base64_decode(secret);
  if (raw.size() != 32)
    throw Error(Errc::kUsage, "the key file does not hold a strongroom key (32 bytes, base64)");
  codec::Key32 k;
  std::copy(raw.begin(), raw.end(), k.begin());
  codec::wipe(raw);
  codec::Key32 wrap = codec::hmac_sha256(k, salt);
  codec::wipe(k);
  return wrap;
}

// The key commitment: HMAC-SHA-256, under a key derived from the wrapping key, of everything in
// the slot that opening uses (id, kdf, scrypt parameters, salt, ciphertext and, in ring slots,
// the public key), length-prefixed.
Bytes slot_commitment(const codec::Key32& wrap, const std::string& id, const std::string& kdf,
                      const codec::ScryptParams& p, ByteSpan salt, ByteSpan sealed,
                      std::optional<ByteSpan> public_key = std::nullopt) {
  static const std::string kLabel = "strongroom key slot commitment v1";
  codec::Key32 commit_key = codec::hmac_sha256(wrap, as_bytes(kLabel));
  Bytes msg;
  auto field = [&msg](ByteSpan b) {
    uint64_t n = b.size();
    for (int i = 0; i < 8; ++i) msg.push_back(static_cast<uint8_t>(n >> (8 * i)));
    msg.insert(msg.end(), b.begin(), b.end());
  };
  std::string params = std::to_string(p.n) + "," + std::to_string(p.r) + "," + std::to_string(p.p);
  field(as_bytes(id));
  field(as_bytes(kdf));
  field(as_bytes(params));
  field(salt);
  field(sealed);
  if (public_key) field(*public_key);
  codec::Key32 mac = codec::hmac_sha256(commit_key, msg);
  codec::wipe(commit_key);
  return Bytes(mac.begin(), mac.end());
}

json legacy_key_set_json(const KeySet& keys) {
  if (keys.generations.size() != 1 || keys.newest().number != 0)
    throw Error(Errc::kInternal, "an old-format key slot holds one key generation");
  return {{"id_key", base64_encode(keys.id_key)},
          {"meta_key", base64_encode(keys.newest().meta_key)},
          {"data_key", base64_encode(keys.newest().data_key)},
          {"chunker_seed", base64_encode(keys.chunker_seed)}};
}

void wipe_strings(json& j) {
  for (auto& v : j)
    if (v.is_string()) codec::wipe(v.get_ref<std::string&>());
}

void check_params(const Credential& credential, const codec::ScryptParams& params) {
  if (!credential.key_file && !codec::meets_minimum(params))
    throw Error(Errc::kUsage,
                "scrypt parameters below the minimum (N >= " + std::to_string(codec::kMinScrypt.n) +
                    ", r >= " + std::to_string(codec::kMinScrypt.r) + ")");
}

codec::Key32 wrapping_key(const Credential& credential, ByteSpan salt,
                          const codec::ScryptParams& params) {
  return credential.key_file ? key_file_wrap(credential.secret, salt)
                             : codec::derive_password_key(credential.secret, salt, params);
}

json slot_header(const std::string& kdf, const codec::ScryptParams& params, ByteSpan salt) {
  return {{"kdf", kdf},
          {"n", params.n},
          {"r", params.r},
          {"p", params.p},
          {"salt", base64_encode(salt)},
          {"created", format_rfc3339(now_ns())},
          {"created_ns", now_ns()},
          {"host", current_host()},
          {"user", current_user()}};
}

// An old-format slot: the key set sealed directly under the wrapping key.
json legacy_slot(const KeySet& keys, const std::string& id, const Credential& credential,
                 const codec::ScryptParams& params) {
  std::string kdf = credential.key_file ? "key" : "scrypt";
  Bytes salt = random_bytes(32);
  codec::Key32 wrap = wrapping_key(credential, salt, params);
  json secret = legacy_key_set_json(keys);
  std::string plain = secret.dump();
  wipe_strings(secret);
  Bytes sealed = codec::seal(wrap, as_bytes(plain), as_bytes(slot_aad(id)));
  codec::wipe(plain);
  Bytes commit = slot_commitment(wrap, id, kdf, params, salt, sealed);
  codec::wipe(wrap);
  json slot = slot_header(kdf, params, salt);
  slot["version"] = 1;
  slot["sealed"] = base64_encode(sealed);
  slot["commit"] = base64_encode(commit);
  return slot;
}

// A ring slot: a new X25519 pair, its private key and the ring anchor under the wrapping key,
// the ring key sealed to its public key.
json ring_slot(const KeySet& keys, const std::string& id, const Credential& credential,
               const codec::ScryptParams& params) {
  if (keys.ring_id.empty()) throw Error(Errc::kInternal, "ring slot without a ring");
  std::string kdf = credential.key_file ? "key" : "scrypt";
  Bytes salt = random_bytes(32);
  codec::Key32 wrap = wrapping_key(credential, salt, params);
  codec::X25519Pair pair = codec::x25519_generate();
  codec::Key32 anchor = ring_anchor(keys);
  json secret = {{"private", base64_encode(pair.priv)}, {"anchor", base64_encode(anchor)}};
  codec::wipe(anchor);
  std::string plain = secret.dump();
  wipe_strings(secret);
  Bytes sealed = codec::seal(wrap, as_bytes(plain), as_bytes(slot_aad(id)));
  codec::wipe(plain);
  Bytes commit = slot_commitment(wrap, id, kdf, params, salt, sealed, ByteSpan(pair.pub));
  codec::wipe(wrap);
  json slot = slot_header(kdf, params, salt);
  slot["version"] = 2;
  slot["public"] = base64_encode(pair.pub);
  slot["sealed"] = base64_encode(sealed);
  slot["commit"] = base64_encode(commit);
  approve_slot(slot, id, keys);
  seal_ring_key_into(slot, id, keys);
  return slot;
}

}  // namespace

std::string generate_key_file_secret() { return base64_encode(random_bytes(32)); }

std::string add_key_slot(storage::Storage& storage, const KeySet& keys, std::string_view password,
                         const codec::ScryptParams& params) {
  return add_key_slot(storage, keys, Credential{std::string(password), false}, params);
}

std::string add_key_slot(storage::Storage& storage, const KeySet& keys,
                         const Credential& credential, const codec::ScryptParams& params) {
  check_params(credential, params);
  if (keys.write_only) throw Error(Errc::kAuth, kWriteOnlyMessage);
  std::string id = random_hex(16);
  json slot = keys.ring_id.empty() ? legacy_slot(keys, id, credential, params)
                                   : ring_slot(keys, id, credential, params);
  storage.put("keys/" + id, as_bytes(slot.dump(2) + "\n"), true);
  return id;
}

void rewrite_key_slot(storage::Storage& storage, const KeySet& keys, const std::string& id,
                      const Credential& credential, const codec::ScryptParams& params) {
  check_params(credential, params);
  json slot = ring_slot(keys, id, credential, params);
  storage.put("keys/" + id, as_bytes(slot.dump(2) + "\n"));
}

namespace {

json load_slot(storage::Storage& storage, const std::string& key) {
  Bytes raw = storage.get(key);
  try {
    return json::parse(as_chars(raw));
  } catch (const json::exception&) {
    throw Error(Errc::kCorrupt, "key slot " + key + " is damaged (not JSON)");
  }
}

enum class SlotOutcome { kOpened, kNotThis, kOtherKind, kDamaged, kTooWeak };

struct SlotTry {
  SlotOutcome outcome = SlotOutcome::kNotThis;
  KeySet keys;
};

codec::Key32 key_from(const json& j, const char* name) {
  Bytes b = base64_decode(j.at(name).get<std::string>());
  if (b.size() != 32) throw Error(Errc::kCorrupt, "key slot holds a key of the wrong size");
  codec::Key32 k;
  std::copy(b.begin(), b.end(), k.begin());
  codec::wipe(b);
  return k;
}

// An old-format slot's plaintext: its key set (generation 0), or "not this slot" for any
// plaintext that is not one.
SlotTry parse_key_set(Bytes& plain, SlotOutcome bad) {
  SlotTry t;
  try {
    json secret = json::parse(as_chars(plain));
    codec::wipe(plain);
    t.keys.id_key = key_from(secret, "id_key");
    KeyGeneration& g = t.keys.generations.emplace_back();
    g.meta_key = key_from(secret, "meta_key");
    g.data_key = key_from(secret, "data_key");
    t.keys.chunker_seed = key_from(secret, "chunker_seed");
    wipe_strings(secret);
    t.outcome = SlotOutcome::kOpened;
  } catch (const std::exception&) {  // json::exception, or Error for a key of the wrong size
    codec::wipe(plain);
    t.keys.generations.clear();
    t.outcome = bad;
  }
  return t;
}

// A ring slot's plaintext (private key, anchor): opens the ring the slot names.
SlotTry open_ring_slot(storage::Storage& storage, const json& slot, const std::string& id,
                       Bytes& plain) {
  SlotTry t;
  codec::Key32 priv, anchor;
  try {
    json secret = json::parse(as_chars(plain));
    codec::wipe(plain);
    priv = key_from(secret, "private");
    anchor = key_from(secret, "anchor");
    wipe_strings(secret);
  } catch (const std::exception&) {
    codec::wipe(plain);
    return {SlotOutcome::kDamaged, {}};
  }
  try {
    t.keys = open_ring_for_slot(storage, slot, id, priv, anchor);
    t.outcome = SlotOutcome::kOpened;
  } catch (const Error& e) {
    if (e.code() != Errc::kCorrupt && e.code() != Errc::kNotFound) throw;
    t.outcome = SlotOutcome::kDamaged;
  }
  codec::wipe(priv);
  codec::wipe(anchor);
  return t;
}

// Tries one slot with `credential`. Nothing in the slot is trusted: every field is checked
// before use, the commitment (when present) before decryption.
SlotTry try_slot(storage::Storage& storage, const json& slot, const std::string& id,
                 const Credential& credential) {
  std::string kdf = slot.at("kdf").get<std::string>();
  if (kdf != "scrypt" && kdf != "key") throw Error(Errc::kCorrupt, "unknown kdf");
  if ((kdf == "key") != credential.key_file) return {SlotOutcome::kOtherKind, {}};
  bool ring = slot.contains("public");
  Bytes salt = base64_decode(slot.at("salt").get<std::string>());
  Bytes sealed = base64_decode(slot.at("sealed").get<std::string>());
  if (salt.size() < 16 || salt.size() > 64 || sealed.size() > kMaxSealed)
    throw Error(Errc::kCorrupt, "salt or sealed key set of an unexpected size");
  std::optional<Bytes> commit, pub;
  if (slot.contains("commit")) commit = base64_decode(slot.at("commit").get<std::string>());
  if (ring) {
    pub = base64_decode(slot.at("public").get<std::string>());
    if (!commit || pub->size() != 32)
      throw Error(Errc::kCorrupt, "ring slot without a commitment or public key");
  }
  codec::ScryptParams p;
  codec::Key32 wrap;
  if (slot.contains("n") || kdf == "scrypt")
    p = {json_int<uint64_t>(slot, "n", id), json_int<uint64_t>(slot, "r", id),
         json_int<uint64_t>(slot, "p", id)};
  if (kdf == "key") {
    wrap = key_file_wrap(credential.secret, salt);
  } else {
    if (!codec::meets_minimum(p)) return {SlotOutcome::kTooWeak, {}};
    // Bound the memory an altered slot can demand.
    if ((p.n & (p.n - 1)) != 0 || p.p > 4 || p.r > (uint64_t{1} << 23) / p.n)
      throw Error(Errc::kCorrupt, "unreasonable scrypt parameters");
    wrap = codec::derive_password_key(credential.secret, salt, p);
  }
  std::optional<ByteSpan> pub_span;
  if (pub) pub_span = ByteSpan(*pub);
  if (commit && !codec::constant_time_equal(
                    *commit, slot_commitment(wrap, id, kdf, p, salt, sealed, pub_span))) {
    codec::wipe(wrap);
    return {SlotOutcome::kNotThis, {}};  // another password's slot (or an altered one)
  }
  Bytes plain;
  try {
    plain = codec::open(wrap, sealed, as_bytes(slot_aad(id)), "key slot");
  } catch (const Error&) {
    codec::wipe(wrap);
    // Committed to this password but not decrypting: damaged. Uncommitted: another password's.
    return {commit ? SlotOutcome::kDamaged : SlotOutcome::kNotThis, {}};
  }
  codec::wipe(wrap);
  if (ring) return open_ring_slot(storage, slot, id, plain);
  return parse_key_set(plain, commit ? SlotOutcome::kDamaged : SlotOutcome::kNotThis);
}

void check_key_file_credential(const Credential& credential) {
  if (!credential.key_file) return;
  Bytes raw;
  try {  // a clear error for a file that is not a key file at all
    raw = base64_decode(credential.secret);
  } catch (const Error&) {
  }
  codec::wipe(raw);
  if (raw.size() != 32)
    throw Error(Errc::kUsage,
                "the key file does not hold a strongroom key (made by `key add --new-key-file`)");
}

std::string skipped_note(const std::vector<std::string>& damaged,
                         const std::vector<std::string>& weak) {
  std::string note;
  if (!damaged.empty()) {
    note += " (" + std::to_string(damaged.size()) + " damaged key slot(s) skipped:";
    for (const auto& d : damaged) note += " " + printable_label(d);
    note += ")";
  }
  if (!weak.empty()) {
    note += " (" + std::to_string(weak.size()) +
            " key slot(s) skipped for a scrypt cost below the minimum N >= " +
            std::to_string(codec::kMinScrypt.n) + ", r >= " + std::to_string(codec::kMinScrypt.r) +
            ":";
    for (const auto& w : weak) note += " " + printable_label(w);
    note += ")";
  }
  return note;
}

}  // namespace

std::pair<KeySet, std::string> open_key_slots(storage::Storage& storage,
                                              std::string_view password) {
  return open_key_slots(storage, Credential{std::string(password), false});
}

std::pair<KeySet, std::string> open_key_slots(storage::Storage& storage,
                                              const Credential& credential) {
  check_key_file_credential(credential);
  std::vector<std::string> slots;
  storage.list("keys/", [&](const storage::ObjectInfo& o) {
    if (!is_ring_object(o.key)) slots.push_back(o.key);
  });
  if (slots.empty())
    throw Error(Errc::kCorrupt,
                storage.describe() + " has no key slots: is this a strongroom repository?");
  std::sort(slots.begin(), slots.end());
  std::vector<std::string> damaged, weak;  // slots that could not be tried, or opened broken
  for (const auto& key : slots) {
    std::string id = key.substr(5);
    SlotTry t;
    try {
      t = try_slot(storage, load_slot(storage, key), id, credential);
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt) throw;
      t.outcome = SlotOutcome::kDamaged;
    } catch (const json::exception&) {
      t.outcome = SlotOutcome::kDamaged;
    }
    if (t.outcome == SlotOutcome::kOpened) return {std::move(t.keys), id};
    if (t.outcome == SlotOutcome::kDamaged) damaged.push_back(id);
    if (t.outcome == SlotOutcome::kTooWeak) weak.push_back(id);
  }
  std::string note = skipped_note(damaged, weak);
  if (credential.key_file)
    throw Error(Errc::kAuth, "wrong key file: no key slot of " + storage.describe() +
                                 " opens with it (check STRONGROOM_KEY_FILE / --key-file)" + note);
  throw Error(Errc::kAuth,
              "wrong password: no key slot of " + storage.describe() +
                  " opens with it (check STRONGROOM_PASSWORD_FILE / STRONGROOM_PASSWORD)" + note);
}

}  // namespace sr::repo

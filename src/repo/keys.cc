#include "repo/keys.h"

#include <pwd.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "base/json_util.h"
#include "base/random.h"
#include "base/time_util.h"

namespace sr::repo {

using nlohmann::json;

KeySet KeySet::generate() {
  KeySet k;
  k.id_key = codec::random_key();
  k.meta_key = codec::random_key();
  k.data_key = codec::random_key();
  k.chunker_seed = codec::random_key();
  return k;
}

static std::string slot_aad(const std::string& id) { return "strongroom key slot " + id; }

static std::string current_host() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

static std::string current_user() {
  if (struct passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}

static codec::Key32 key_from(const json& j, const char* name) {
  Bytes b = base64_decode(j.at(name).get<std::string>());
  if (b.size() != 32) throw Error(Errc::kCorrupt, "key slot holds a key of the wrong size");
  codec::Key32 k;
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

std::string generate_key_file_secret() { return base64_encode(random_bytes(32)); }

namespace {
codec::Key32 key_file_wrap(const std::string& secret, ByteSpan salt) {
  Bytes raw = base64_decode(secret);
  if (raw.size() != 32)
    throw Error(Errc::kUsage, "the key file does not hold a strongroom key (32 bytes, base64)");
  codec::Key32 k;
  std::copy(raw.begin(), raw.end(), k.begin());
  return codec::hmac_sha256(k, salt);
}
}  // namespace

std::string add_key_slot(storage::Storage& storage, const KeySet& keys, std::string_view password,
                         const codec::ScryptParams& params) {
  return add_key_slot(storage, keys, Credential{std::string(password), false}, params);
}

std::string add_key_slot(storage::Storage& storage, const KeySet& keys,
                         const Credential& credential, const codec::ScryptParams& params) {
  std::string id = random_hex(16);
  Bytes salt = random_bytes(32);
  codec::Key32 wrap = credential.key_file
                          ? key_file_wrap(credential.secret, salt)
                          : codec::derive_password_key(credential.secret, salt, params);
  json secret = {{"id_key", base64_encode(keys.id_key)},
                 {"meta_key", base64_encode(keys.meta_key)},
                 {"data_key", base64_encode(keys.data_key)},
                 {"chunker_seed", base64_encode(keys.chunker_seed)}};
  std::string plain = secret.dump();
  Bytes sealed = codec::seal(wrap, as_bytes(plain), as_bytes(slot_aad(id)));
  std::fill(plain.begin(), plain.end(), '\0');
  json slot = {{"version", 1},
               {"kdf", credential.key_file ? "key" : "scrypt"},
               {"n", params.n},
               {"r", params.r},
               {"p", params.p},
               {"salt", base64_encode(salt)},
               {"sealed", base64_encode(sealed)},
               {"created", format_rfc3339(now_ns())},
               {"created_ns", now_ns()},
               {"host", current_host()},
               {"user", current_user()}};
  std::string text = slot.dump(2) + "\n";
  storage.put("keys/" + id, as_bytes(text), true);
  return id;
}

static json load_slot(storage::Storage& storage, const std::string& key) {
  Bytes raw = storage.get(key);
  try {
    return json::parse(as_chars(raw));
  } catch (const json::exception&) {
    throw Error(Errc::kCorrupt, "key slot " + key + " is damaged (not JSON)");
  }
}

std::pair<KeySet, std::string> open_key_slots(storage::Storage& storage,
                                              std::string_view password) {
  return open_key_slots(storage, Credential{std::string(password), false});
}

std::pair<KeySet, std::string> open_key_slots(storage::Storage& storage,
                                              const Credential& credential) {
  if (credential.key_file) {  // a clear error for a file that is not a key file at all
    Bytes raw;
    try {
      raw = base64_decode(credential.secret);
    } catch (const Error&) {
    }
    if (raw.size() != 32)
      throw Error(Errc::kUsage,
                  "the key file does not hold a strongroom key (made by `key add --new-key-file`)");
  }
  std::vector<std::string> slots;
  storage.list("keys/", [&](const storage::ObjectInfo& o) { slots.push_back(o.key); });
  if (slots.empty())
    throw Error(Errc::kCorrupt,
                storage.describe() + " has no key slots: is this a strongroom repository?");
  std::sort(slots.begin(), slots.end());
  std::vector<std::string> damaged;  // slots that could not even be tried
  for (const auto& key : slots) {
    std::string id = key.substr(5);
    codec::Key32 wrap;
    Bytes sealed;
    try {
      json slot = load_slot(storage, key);
      std::string kdf = slot.at("kdf").get<std::string>();
      if (kdf != "scrypt" && kdf != "key") throw Error(Errc::kCorrupt, "unknown kdf");
      if ((kdf == "key") != credential.key_file) continue;  // a slot for the other kind of secret
      Bytes salt = base64_decode(slot.at("salt").get<std::string>());
      if (kdf == "key") {
        wrap = key_file_wrap(credential.secret, salt);
      } else {
        codec::ScryptParams p{json_int<uint64_t>(slot, "n", key),
                              json_int<uint64_t>(slot, "r", key),
                              json_int<uint64_t>(slot, "p", key)};
        // Slots are not authenticated before use: bound the memory an altered one can demand.
        if (p.n < 2 || (p.n & (p.n - 1)) != 0 || p.r == 0 || p.p == 0 || p.p > 4 ||
            p.r > (uint64_t{1} << 23) / p.n)
          throw Error(Errc::kCorrupt, "unreasonable scrypt parameters");
        wrap = codec::derive_password_key(credential.secret, salt, p);
      }
      sealed = base64_decode(slot.at("sealed").get<std::string>());
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt) throw;
      damaged.push_back(id);
      continue;
    } catch (const json::exception&) {
      damaged.push_back(id);
      continue;
    }
    Bytes plain;
    try {
      plain = codec::open(wrap, sealed, as_bytes(slot_aad(id)), "key slot");
    } catch (const Error&) {
      continue;  // not this slot's password
    }
    try {
      json secret = json::parse(as_chars(plain));
      std::fill(plain.begin(), plain.end(), 0);
      KeySet k;
      k.id_key = key_from(secret, "id_key");
      k.meta_key = key_from(secret, "meta_key");
      k.data_key = key_from(secret, "data_key");
      k.chunker_seed = key_from(secret, "chunker_seed");
      return {k, id};
    } catch (const json::exception&) {
      throw Error(Errc::kCorrupt, "key slot " + id + " opened but holds a damaged key set");
    }
  }
  std::string note;
  if (!damaged.empty()) {
    note = " (" + std::to_string(damaged.size()) + " damaged key slot(s) skipped:";
    for (const auto& d : damaged) note += " " + d;
    note += ")";
  }
  if (credential.key_file)
    throw Error(Errc::kAuth, "wrong key file: no key slot of " + storage.describe() +
                                 " opens with it (check STRONGROOM_KEY_FILE / --key-file)" + note);
  throw Error(Errc::kAuth,
              "wrong password: no key slot of " + storage.describe() +
                  " opens with it (check STRONGROOM_PASSWORD_FILE / STRONGROOM_PASSWORD)" + note);
}

std::vector<KeySlotInfo> list_key_slots(storage::Storage& storage) {
  std::vector<KeySlotInfo> out;
  storage.list("keys/", [&](const storage::ObjectInfo& o) {
    KeySlotInfo info{o.key.substr(5), 0, "", ""};
    try {
      json slot = load_slot(storage, o.key);
      info.created_ns = json_int_or<int64_t>(slot, "created_ns", 0, o.key);
      info.host = slot.value("host", std::string());
      info.user = slot.value("user", std::string());
      info.kdf = slot.value("kdf", std::string());
    } catch (const std::exception&) {
      info.host = "(damaged)";
    }
    out.push_back(info);
  });
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.created_ns < b.created_ns; });
  return out;
}

}  // namespace sr::repo

#include "repo/keys_ring.h"

#include <algorithm>
#include <set>

#include "base/json_util.h"
#include "base/random.h"

namespace sr::repo {

using nlohmann::json;

namespace {

std::string ring_key_of(const std::string& id) { return "keys/ring." + id; }
std::string ring_aad(const std::string& id) { return "strongroom key ring " + id; }
std::string ring_key_aad(const std::string& slot_id, const std::string& ring_id) {
  return "strongroom ring key " + slot_id + " " + ring_id;
}

bool valid_id(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

codec::Key32 key32(const json& j, const char* name) {
  if (!j.is_object() || !j.contains(name) || !j[name].is_string())
    throw Error(Errc::kCorrupt, std::string("key set without ") + name);
  Bytes b = base64_decode(j[name].get<std::string>());
  if (b.size() != 32) throw Error(Errc::kCorrupt, std::string("key set: bad ") + name);
  codec::Key32 k;
  std::copy(b.begin(), b.end(), k.begin());
  codec::wipe(b);
  return k;
}

// The key set as JSON; `writer`: no data keys, no restore private keys.
json key_set_json(const KeySet& keys, bool writer) {
  json gens = json::array();
  for (const auto& g : keys.generations) {
    json e = {{"n", g.number}, {"meta_key", base64_encode(g.meta_key)}};
    if (!writer) {
      if (!g.has_data_key) throw Error(Errc::kAuth, kWriteOnlyMessage);
      e["data_key"] = base64_encode(g.data_key);
    }
    if (g.restore_public) e["restore_public"] = base64_encode(*g.restore_public);
    if (!writer && g.restore_private) e["restore_private"] = base64_encode(*g.restore_private);
    gens.push_back(std::move(e));
  }
  return {{"id_key", base64_encode(keys.id_key)},
          {"chunker_seed", base64_encode(keys.chunker_seed)},
          {"generations", std::move(gens)}};
}

KeySet key_set_from_json(const json& j, bool writer) {
  KeySet k;
  k.id_key = key32(j, "id_key");
  k.chunker_seed = key32(j, "chunker_seed");
  k.write_only = writer;
  if (!j.contains("generations") || !j["generations"].is_array() || j["generations"].empty() ||
      j["generations"].size() > 100000)
    throw Error(Errc::kCorrupt, "key set without generations");
  for (const auto& e : j["generations"]) {
    KeyGeneration& g = k.generations.emplace_back();
    g.number = json_int<uint32_t>(e, "n", "key generation");
    if (k.generations.size() > 1 && g.number <= k.generations[k.generations.size() - 2].number)
      throw Error(Errc::kCorrupt, "key generations out of order");
    g.meta_key = key32(e, "meta_key");
    g.has_data_key = !writer;
    if (!writer) g.data_key = key32(e, "data_key");
    if (e.contains("restore_public")) g.restore_public = key32(e, "restore_public");
    if (!writer && e.contains("restore_private")) {
      g.restore_private = key32(e, "restore_private");
      if (!g.restore_public || codec::x25519_public(*g.restore_private) != *g.restore_public)
        throw Error(Errc::kCorrupt, "key generation with a mismatched restore key pair");
    }
  }
  if (writer && !k.newest().restore_public)
    throw Error(Errc::kCorrupt, "writer key without a restore public key");
  return k;
}

void wipe_json(json& j) {
  if (j.is_string()) codec::wipe(j.get_ref<std::string&>());
  if (j.is_structured())
    for (auto& v : j) wipe_json(v);
}

json parse_object(ByteSpan raw, const std::string& what) {
  json j = json::parse(as_chars(raw), nullptr, false);
  if (!j.is_object()) throw Error(Errc::kCorrupt, what + " is damaged (not a JSON object)");
  return j;
}

std::string string_field(const json& j, const char* name, const std::string& what) {
  if (!j.contains(name) || !j[name].is_string())
    throw Error(Errc::kCorrupt, what + " is damaged: no '" + name + "'");
  return j[name].get<std::string>();
}

}  // namespace

codec::Key32 ring_anchor(const KeySet& keys) {
  return codec::hmac_sha256(data_key_of(keys, keys.generations.front().number),
                            as_bytes(std::string("strongroom ring anchor")));
}

namespace {
codec::Key32 approval_for(const KeySet& keys, const std::string& slot_id, const std::string& pub) {
  codec::Key32 k = codec::hmac_sha256(data_key_of(keys, keys.generations.front().number),
                                      as_bytes(std::string("strongroom slot approval")));
  codec::Key32 tag = codec::hmac_sha256(k, as_bytes(slot_id + "\n" + pub));
  codec::wipe(k);
  return tag;
}
}  // namespace

void approve_slot(json& slot, const std::string& slot_id, const KeySet& keys) {
  slot["approval"] =
      base64_encode(approval_for(keys, slot_id, string_field(slot, "public", "key slot")));
}

bool slot_approved(const json& slot, const std::string& slot_id, const KeySet& keys) {
  if (!slot.is_object() || !slot.contains("public") || !slot["public"].is_string() ||
      !slot.contains("approval") || !slot["approval"].is_string())
    return false;
  try {
    if (base64_decode(slot["public"].get<std::string>()).size() != 32) return false;
    Bytes given = base64_decode(slot["approval"].get<std::string>());
    codec::Key32 want = approval_for(keys, slot_id, slot["public"].get<std::string>());
    bool ok = codec::constant_time_equal(given, want);
    codec::wipe(want);
    return ok;
  } catch (const Error&) {
    return false;
  }
}

void seal_ring_key_into(json& slot, const std::string& slot_id, const KeySet& keys) {
  Bytes pub = base64_decode(string_field(slot, "public", "key slot " + slot_id));
  if (pub.size() != 32) throw Error(Errc::kCorrupt, "key slot " + slot_id + ": bad public key");
  codec::Key32 pk;
  std::copy(pub.begin(), pub.end(), pk.begin());
  slot["ring"] = keys.ring_id;
  slot["ring_key"] = base64_encode(
      codec::seal_to_public(pk, keys.ring_key, as_bytes(ring_key_aad(slot_id, keys.ring_id))));
}

KeySet open_ring_for_slot(storage::Storage& storage, const json& slot, const std::string& slot_id,
                          const codec::Key32& slot_private, const codec::Key32& anchor) {
  std::string what = "key slot " + slot_id;
  std::string ring_id = string_field(slot, "ring", what);
  if (!valid_id(ring_id)) throw Error(Errc::kCorrupt, what + " names an invalid key ring");
  Bytes sealed_key = base64_decode(string_field(slot, "ring_key", what));
  Bytes rk = codec::open_with_private(slot_private, sealed_key,
                                      as_bytes(ring_key_aad(slot_id, ring_id)), what.c_str());
  if (rk.size() != 32) throw Error(Errc::kCorrupt, what + ": bad ring key");
  codec::Key32 ring_key;
  std::copy(rk.begin(), rk.end(), ring_key.begin());
  codec::wipe(rk);
  std::string key = ring_key_of(ring_id);
  json ring = parse_object(storage.get(key), key);
  Bytes plain = codec::open(ring_key, base64_decode(string_field(ring, "sealed", key)),
                            as_bytes(ring_aad(ring_id)), key.c_str());
  json body = json::parse(as_chars(plain), nullptr, false);
  codec::wipe(plain);
  KeySet keys = key_set_from_json(body, false);
  wipe_json(body);
  codec::Key32 expect = ring_anchor(keys);
  bool anchored = codec::constant_time_equal(expect, anchor);
  codec::wipe(expect);
  if (!anchored)
    throw Error(Errc::kCorrupt, key + " is not the key ring of this key slot (anchor mismatch)");
  keys.ring_id = ring_id;
  keys.ring_key = ring_key;
  codec::wipe(ring_key);
  return keys;
}

void write_ring(storage::Storage& storage, KeySet& keys) {
  keys.ring_id = random_hex(16);
  keys.ring_key = codec::random_key();
  json body = key_set_json(keys, false);
  std::string plain = body.dump();
  wipe_json(body);
  Bytes sealed = codec::seal(keys.ring_key, as_bytes(plain), as_bytes(ring_aad(keys.ring_id)));
  codec::wipe(plain);
  json ring = {{"version", 1}, {"sealed", base64_encode(sealed)}};
  storage.put(ring_key_of(keys.ring_id), as_bytes(ring.dump() + "\n"), true);
}

std::vector<std::string> legacy_key_slots(storage::Storage& storage) {
  std::vector<std::string> out;
  for (const auto& s : list_key_slots(storage))
    if (s.version == 1 && s.host != "(damaged)") out.push_back(s.id);
  return out;
}

uint32_t rotate_keys(storage::Storage& storage, KeySet& keys, bool add_restore) {
  if (keys.write_only) throw Error(Errc::kAuth, kWriteOnlyMessage);
  std::vector<std::string> legacy = legacy_key_slots(storage);
  if (!legacy.empty()) {
    std::string names;
    for (const auto& id : legacy) names += " " + id;
    throw Error(Errc::kUsage,
                "cannot rotate: key slot(s)" + names +
                    " use the old format (the keys sealed directly under their password) and "
                    "cannot be re-keyed without it; open the repository with each of them and "
                    "run `strongroom key upgrade`, or remove them");
  }
  // Every ring slot must be one a holder of the data keys made: checked before anything is
  // written, so a planted slot stops the rotation instead of receiving the new ring key.
  std::vector<std::string> slot_keys;
  storage.list("keys/", [&](const storage::ObjectInfo& o) {
    if (!is_ring_object(o.key)) slot_keys.push_back(o.key);
  });
  std::string unapproved;
  for (const auto& key : slot_keys) {
    json slot = json::parse(as_chars(storage.get(key)), nullptr, false);
    if (!slot.is_object() || !slot.contains("public")) continue;  // damaged or old: opens nothing
    if (!slot_approved(slot, key.substr(5), keys)) unapproved += " " + key.substr(5);
  }
  if (!unapproved.empty())
    throw Error(Errc::kCorrupt,
                "cannot rotate: key slot(s)" + unapproved +
                    " were not made with this repository's keys (planted by someone who can "
                    "write keys/, or damaged); rotation would hand them the new keys. Inspect "
                    "and remove them with `strongroom key remove ID`, then run it again");
  KeySet next = keys;
  bool restore = add_restore || keys.newest().restore_public.has_value();
  KeyGeneration& g = next.generations.emplace_back();
  g.number = keys.newest().number + 1;
  g.meta_key = codec::random_key();
  g.data_key = codec::random_key();
  if (restore) {
    codec::X25519Pair pair = codec::x25519_generate();
    g.restore_public = pair.pub;
    g.restore_private = pair.priv;
  }
  write_ring(storage, next);  // first the new ring, then the slots that name it
  for (const auto& key : slot_keys) {
    json slot = json::parse(as_chars(storage.get(key)), nullptr, false);
    if (!slot.is_object() || !slot.contains("public")) continue;  // damaged: opens nothing
    seal_ring_key_into(slot, key.substr(5), next);
    storage.put(key, as_bytes(slot.dump(2) + "\n"));
  }
  // Rings no slot names any more (the old one; any left by an interrupted rotation).
  std::set<std::string> named;
  std::vector<std::string> rings;
  storage.list("keys/", [&](const storage::ObjectInfo& o) {
    if (is_ring_object(o.key)) rings.push_back(o.key);
  });
  for (const auto& key : slot_keys) {
    json slot = json::parse(as_chars(storage.get(key)), nullptr, false);
    if (slot.is_object() && slot.contains("ring") && slot["ring"].is_string())
      named.insert(ring_key_of(slot["ring"].get<std::string>()));
  }
  for (const auto& r : rings)
    if (!named.count(r) && r != ring_key_of(next.ring_id)) storage.remove(r);
  keys = next;
  return g.number;
}

std::string writer_file_text(const KeySet& keys, const std::string& repository_id) {
  if (!keys.newest().restore_public)
    throw Error(Errc::kInternal, "writer key without a restore public key");
  json j = key_set_json(keys, true);
  j["strongroom"] = "writer key";
  j["version"] = 1;
  j["repository"] = repository_id;
  // One line: key files are read up to their first newline.
  std::string text = j.dump() + "\n";
  wipe_json(j);
  return text;
}

bool is_writer_file(std::string_view text) {
  size_t i = text.find_first_not_of(" \t\r\n");
  return i != std::string_view::npos && text[i] == '{';
}

KeySet parse_writer_file(std::string_view text, const std::string& repository_id) {
  json j = json::parse(text, nullptr, false);
  if (!j.is_object() || !j.contains("strongroom") || j["strongroom"] != "writer key")
    throw Error(Errc::kUsage, "the key file is not a strongroom writer key file");
  if (json_int<int>(j, "version", "writer key file") != 1)
    throw Error(Errc::kUnsupported, "unsupported writer key file version");
  if (string_field(j, "repository", "writer key file") != repository_id)
    throw Error(Errc::kAuth, "the writer key file belongs to another repository");
  KeySet keys = key_set_from_json(j, true);
  wipe_json(j);
  return keys;
}

}  // namespace sr::repo

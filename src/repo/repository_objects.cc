// The Repository's typed object operations: marks, key slots, listing and replication copies.
// (repository.cc holds chunks, packs, indexes and manifests.)
#include <algorithm>

#include "base/json_util.h"
#include "repo/envelope.h"
#include "repo/keys_ring.h"
#include "repo/lock.h"
#include "repo/repository.h"
#include "repo/wal_store.h"

namespace sr::repo {

using nlohmann::json;

namespace {

// Authenticates one object's bytes; throws kCorrupt naming it.
void authenticate(const KeySet& keys, const ObjectRef& object, ByteSpan bytes) {
  const std::string& key = object.key;
  switch (object.kind) {
    case ObjectKind::kPack: {
      std::string name = object.name();
      PackInfo info = parse_pack(keys, name, bytes);
      codec::Key32 pack_key = unwrap_pack_key(keys, name, info.wrapped_key);
      std::string what = "pack " + name;
      for (const auto& b : info.blobs) {
        if (b.offset > bytes.size() || b.length > bytes.size() - b.offset)
          throw Error(Errc::kCorrupt, what + " lists a blob beyond its end");
        codec::open(pack_key, bytes.subspan(b.offset, b.length), blob_aad(b.id, b.type, b.flags),
                    what.c_str());
      }
      return;
    }
    case ObjectKind::kIndex:
      open_envelope(keys, EnvelopeKind::kIndex, key, bytes);
      return;
    case ObjectKind::kManifest:
      open_envelope(keys, EnvelopeKind::kManifest, key, bytes);
      return;
    case ObjectKind::kMark:
      open_envelope(keys, EnvelopeKind::kMark, key, bytes);
      return;
    case ObjectKind::kPgInfo:
      open_envelope(keys, EnvelopeKind::kPgInfo, key, bytes);
      return;
    case ObjectKind::kHold:
      open_envelope(keys, EnvelopeKind::kHold, key, bytes);
      return;
    case ObjectKind::kDeletion:
      open_envelope(keys, EnvelopeKind::kDeletion, key, bytes);
      return;
    case ObjectKind::kRestoreTest:
      open_envelope(keys, EnvelopeKind::kRestoreTest, key, bytes);
      return;
    case ObjectKind::kWal:
      open_wal_object(keys, key, bytes);
      return;
    case ObjectKind::kKeySlot: {
      // Sealed under a password we may not know: check that it is a key slot at all.
      auto j = json::parse(as_chars(bytes), nullptr, false);
      if (!j.is_object() || !j.contains("sealed"))
        throw Error(Errc::kCorrupt, key + " is not a key slot");
      return;
    }
    case ObjectKind::kConfig:
      return;  // opened (and so authenticated) when this repository was opened
    case ObjectKind::kLock:
    case ObjectKind::kPrunePlan:
      throw Error(Errc::kInternal,
                  std::string(object_kind_name(object.kind)) + "s are never copied");
  }
}

}  // namespace

void Repository::save_mark(const std::string& stanza, const std::string& name, const json& record) {
  std::string key = mark_key(stanza, name);
  storage_->put(key, seal_envelope(keys_, EnvelopeKind::kMark, key, as_bytes(record.dump())));
}

std::optional<json> Repository::load_mark(const std::string& stanza, const std::string& name) {
  std::string key = mark_key(stanza, name);
  auto raw = storage::get_if_exists(*storage_, key);
  if (!raw) return std::nullopt;
  Bytes payload = open_envelope(keys_, EnvelopeKind::kMark, key, *raw);
  json j = json::parse(as_chars(payload), nullptr, false);
  if (!j.is_object()) throw Error(Errc::kCorrupt, key + " is damaged");
  return j;
}

std::string Repository::add_key_slot(const Credential& credential,
                                     const codec::ScryptParams& params) {
  // Under the exclusive lock, and only if no rotation replaced the keys since this object opened
  // them: a slot sealed to a ring that a rotation then removes would open nothing.
  auto lock = RepoLock::acquire(*this, "key add", true);
  check_keys_current();
  return repo::add_key_slot(*storage_, keys_, credential, params);
}

void Repository::check_keys_current() {
  if (keys_.write_only) return;
  std::string slot_key = key_slot_key(slot_);
  json slot = json::parse(as_chars(storage_->get(slot_key)), nullptr, false);
  std::string ring = slot.is_object() && slot.contains("ring") && slot["ring"].is_string()
                         ? slot["ring"].get<std::string>()
                         : "";
  bool ring_slot = slot.is_object() && slot.contains("public");
  bool current = keys_.ring_id.empty() ? !ring_slot : ring == keys_.ring_id;
  if (!current)
    throw Error(Errc::kLocked,
                "the repository's keys changed after this command opened it (a rotation or "
                "upgrade by another command); nothing was changed: run it again");
}

std::vector<KeySlotInfo> Repository::list_key_slots() { return repo::list_key_slots(*storage_); }

namespace {
// Sets the outer config's version to kFormatVersion (the sealed part is unchanged).
void raise_config_version(storage::Storage& storage) {
  json outer = json::parse(as_chars(storage.get("config")), nullptr, false);
  if (!outer.is_object()) throw Error(Errc::kCorrupt, "config is damaged");
  if (outer.value("version", 0) == kFormatVersion) return;
  outer["version"] = kFormatVersion;
  storage.put("config", as_bytes(outer.dump(2) + "\n"));
}
}  // namespace

void Repository::ensure_format_version() {
  if (stored_version_ == kFormatVersion) return;
  std::call_once(version_once_, [this] {
    raise_config_version(*storage_);
    stored_version_ = kFormatVersion;
  });
}

bool Repository::upgrade_locked() {
  if (keys_.write_only) throw Error(Errc::kAuth, kWriteOnlyMessage);
  std::string slot_key = key_slot_key(slot_);
  json slot = json::parse(as_chars(storage_->get(slot_key)), nullptr, false);
  if (!slot.is_object()) throw Error(Errc::kCorrupt, slot_key + " is damaged");
  if (slot.contains("public")) return false;
  if (keys_.ring_id.empty()) {
    write_ring(*storage_, keys_);
    // From now on old binaries refuse the repository by its version rather than by its slots.
    ensure_format_version();
  }
  codec::ScryptParams params;
  if (!credential_->key_file)
    params = {json_int<uint64_t>(slot, "n", slot_key), json_int<uint64_t>(slot, "r", slot_key),
              json_int<uint64_t>(slot, "p", slot_key)};
  rewrite_key_slot(*storage_, keys_, slot_, *credential_, params);
  return true;
}

bool Repository::upgrade_key_slot() {
  auto lock = RepoLock::acquire(*this, "key upgrade", true);
  check_keys_current();
  return upgrade_locked();
}

uint32_t Repository::rotate_keys(bool add_restore) {
  auto lock = RepoLock::acquire(*this, "key rotate", true);
  check_keys_current();
  upgrade_locked();
  return repo::rotate_keys(*storage_, keys_, add_restore);
}

std::string Repository::writer_key_text() {
  if (keys_.write_only) return writer_file_text(keys_, config_.id);
  if (!keys_.newest().restore_public) rotate_keys(true);
  return writer_file_text(keys_, config_.id);
}

void Repository::remove_key_slot(const std::string& id) {
  if (keys_.write_only) throw Error(Errc::kAuth, kWriteOnlyMessage);
  auto lock = RepoLock::acquire(*this, "key remove", true);
  auto slots = list_key_slots();
  bool found = std::any_of(slots.begin(), slots.end(), [&](const auto& s) { return s.id == id; });
  if (!found) throw Error(Errc::kNotFound, "no key slot " + id);
  if (slots.size() <= 1) throw Error(Errc::kUsage, "refusing to remove the last key slot");
  if (id == slot_)
    throw Error(
        Errc::kUsage,
        "refusing to remove the key slot of the password in use; open with another password first");
  storage_->remove(key_slot_key(id));
}

std::vector<ObjectRef> Repository::list_objects(ObjectKind kind) {
  return repo::list_objects(*storage_, kind);
}

uint64_t Repository::copy_object_to(const ObjectRef& object, storage::Storage& target) {
  if (object_kind_of(object.key) != object.kind)
    throw Error(Errc::kInternal,
                "copy_object_to: " + object.key + " is not a " + object_kind_name(object.kind));
  Bytes bytes = storage_->get(object.key);
  authenticate(keys_, object, bytes);
  try {
    target.put(object.key, bytes, object.kind != ObjectKind::kKeySlot);
  } catch (const Error& e) {
    // A concurrent replicate copied it (objects are immutable and named for good).
    if (e.code() != Errc::kAlreadyExists || object.kind == ObjectKind::kConfig) throw;
  }
  return bytes.size();
}

bool Repository::same_object_in(const ObjectRef& object, storage::Storage& target) {
  auto theirs = storage::get_if_exists(target, object.key);
  return theirs && *theirs == storage_->get(object.key);
}

void Repository::mark_lock_lost(const std::string& why) {
  std::lock_guard guard(lock_lost_mu_);
  lock_lost_why_ = why;
  lock_lost_ = true;
}

void Repository::check_lock_held() const {
  if (!lock_lost_) return;
  std::lock_guard guard(lock_lost_mu_);
  throw Error(Errc::kLocked, lock_lost_why_);
}

}  // namespace sr::repo

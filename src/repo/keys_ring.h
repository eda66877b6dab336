// repo/keys_ring.h: the key ring (every key generation, sealed under a random ring key),
// rotation, and writer key files (docs/FORMAT.md, "Key ring", "Rotation", "Writer key files").
//
//  - A ring is the object keys/ring.<id> (id: 32 hex), written once and never changed:
//    {"version": 1, "sealed": AES-256-GCM(ring key, JSON key set, aad "strongroom key ring <id>")}.
//    A ring slot names its ring and holds the ring key sealed to the slot's X25519 public key.
//  - rotate_keys appends a generation (new meta and data keys; a new restore key pair when the
//    newest generation had one or `add_restore`), writes a new ring under a new ring key, then
//    re-seals the new ring key to every ring slot's public key (no password needed) and finally
//    removes rings no slot names. A crash in between leaves each slot naming a ring that exists
//    (the old one, or the new one). Old-format slots cannot be re-keyed: rotation refuses,
//    naming them. The caller holds the repository's exclusive lock.
//  - A writer key file (JSON) holds id_key, chunker_seed, every generation's meta key and restore
//    public key, and no data key or restore private key: enough to deduplicate and write
//    metadata, packs and WAL objects, not to read any pack or WAL object.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "repo/keys.h"

namespace sr::repo {

// HMAC-SHA-256(generation 0's data key, "strongroom ring anchor"): what a ring slot checks the
// ring it opens against. Needs the data keys.
codec::Key32 ring_anchor(const KeySet& keys);
// Sets slot["approval"] = HMAC-SHA-256(HMAC-SHA-256(generation 0's data key, "strongroom slot
// approval"), id || "\n" || slot["public"]): only a holder of the data keys can make a slot that
// rotation will give the next ring key to (a slot planted by someone who can write keys/ — a
// write-only host, the storage — gets nothing). Needs the data keys.
void approve_slot(nlohmann::json& slot, const std::string& slot_id, const KeySet& keys);
// Whether `slot` carries a valid approval for `slot_id` under `keys` (and a 32-byte public key).
bool slot_approved(const nlohmann::json& slot, const std::string& slot_id, const KeySet& keys);
// Sets slot["ring"] and slot["ring_key"] (the ring key of `keys` sealed to slot["public"]).
void seal_ring_key_into(nlohmann::json& slot, const std::string& slot_id, const KeySet& keys);
// Opens the ring a ring slot names with the slot's private key; checks the anchor. kCorrupt or
// kNotFound when the ring is missing, damaged or not anchored to this slot.
KeySet open_ring_for_slot(storage::Storage& storage, const nlohmann::json& slot,
                          const std::string& slot_id, const codec::Key32& slot_private,
                          const codec::Key32& anchor);
// Writes `keys` as a new ring under a new random ring key; sets keys.ring_id and keys.ring_key.
void write_ring(storage::Storage& storage, KeySet& keys);

// Old-format key slots (ids), which rotation cannot re-key.
std::vector<std::string> legacy_key_slots(storage::Storage& storage);
// Adds a generation to `keys` (see above) and re-keys every slot. Returns the new generation.
// Refuses (kCorrupt, naming them, before writing anything) when a ring slot is not approved
// (approve_slot) or has a bad public key: rotation never seals a ring key to a slot that no
// holder of the data keys made.
uint32_t rotate_keys(storage::Storage& storage, KeySet& keys, bool add_restore);

// A writer key file's text for `keys` (which needs a restore key in its newest generation), and
// the write-only key set one holds. `repository_id` binds the file to its repository.
std::string writer_file_text(const KeySet& keys, const std::string& repository_id);
bool is_writer_file(std::string_view text);
KeySet parse_writer_file(std::string_view text, const std::string& repository_id);

}  // namespace sr::repo

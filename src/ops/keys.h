// ops/keys.h: key management as operations: add a key slot (for a new password, or for a new key
// file this operation creates), list the slots, remove one (optionally rotating), rotate the
// keys, upgrade the opened slot to a ring slot, and export a writer key file.
//
// Rotation (repo/keys_ring.h): a new key generation for everything written from then on; old
// objects stay readable through the old generations, which stay in the key ring under the
// remaining slots; a removed password or a copy of the old key material does not decrypt what
// is written after it. export_writer writes a writer key file (O_EXCL, mode 0600, fsynced; an
// existing file is never overwritten): on first use it adds a generation with a restore key
// pair, after which every writer seals pack and WAL keys to the restore public key.
//
// The rules live here and in repo/ (Repository::remove_key_slot): a slot is never removed when it
// is the last one, nor when it is the one the repository was opened with, and removal holds an
// exclusive repository lock. add_key with a new key file creates the file first (O_EXCL: an
// existing file is never overwritten; mode 0600; fsynced) and removes it again when the slot
// cannot be written, so a key file on disk always opens the repository. Each result has the JSON
// form the CLI prints (`key add/list/remove --json`). Secrets appear in no message and no JSON.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/context.h"
#include "codec/crypto.h"
#include "repo/keys.h"
#include "repo/repository.h"

namespace sr::ops {

struct AddKeyOptions {
  std::string password;        // the new slot's password (when new_key_file is empty)
  std::string new_key_file;    // create this key file and a slot it opens
  codec::ScryptParams scrypt;  // for password slots
};

struct AddKeyResult {
  std::string id;
  std::string key_file;  // "" for a password slot
  nlohmann::json to_json() const;
};

struct ListKeysResult {
  std::vector<repo::KeySlotInfo> slots;  // oldest first
  std::string current;                   // the slot the repository was opened with
  uint32_t generation = 0;               // the newest key generation
  nlohmann::json to_json() const;
};

struct RemoveKeyResult {
  std::string removed;
  std::optional<uint32_t> generation;  // the new key generation, when rotated
  nlohmann::json to_json() const;
};

struct RotateKeysResult {
  uint32_t generation = 0;  // the new (newest) key generation
  size_t slots = 0;         // key slots re-keyed
  nlohmann::json to_json() const;
};

struct UpgradeKeyResult {
  std::string slot;
  bool upgraded = false;  // false: it already was a ring slot
  nlohmann::json to_json() const;
};

struct ExportWriterResult {
  std::string path;
  uint32_t generation = 0;  // the key generation whose restore key the writer seals to
  nlohmann::json to_json() const;
};

AddKeyResult add_key(repo::Repository& repo, const AddKeyOptions& options, const OpContext& ctx);
ListKeysResult list_keys(repo::Repository& repo, const OpContext& ctx);
RemoveKeyResult remove_key(repo::Repository& repo, const std::string& id, const OpContext& ctx,
                           bool rotate = false);
RotateKeysResult rotate_keys(repo::Repository& repo, const OpContext& ctx);
UpgradeKeyResult upgrade_key(repo::Repository& repo, const OpContext& ctx);
ExportWriterResult export_writer(repo::Repository& repo, const std::string& path,
                                 const OpContext& ctx);

}  // namespace sr::ops

// ops/keys.h: key management as operations: add a key slot (for a new password, or for a new key
// file this operation creates), list the slots, remove one.
//
// The rules live here and in repo/ (Repository::remove_key_slot): a slot is never removed when it
// is the last one, nor when it is the one the repository was opened with, and removal holds an
// exclusive repository lock. add_key with a new key file creates the file first (O_EXCL: an
// existing file is never overwritten; mode 0600; fsynced) and removes it again when the slot
// cannot be written, so a key file on disk always opens the repository. Each result has the JSON
// form the CLI prints (`key add/list/remove --json`). Secrets appear in no message and no JSON.
#pragma once

#include <nlohmann/json.hpp>
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
  nlohmann::json to_json() const;
};

struct RemoveKeyResult {
  std::string removed;
  nlohmann::json to_json() const;
};

AddKeyResult add_key(repo::Repository& repo, const AddKeyOptions& options, const OpContext& ctx);
ListKeysResult list_keys(repo::Repository& repo, const OpContext& ctx);
RemoveKeyResult remove_key(repo::Repository& repo, const std::string& id, const OpContext& ctx);

}  // namespace sr::ops

// repo/keys.h: the repository's key hierarchy and password-protected key slots.
//
// A repository has one KeySet, generated at init from the system RNG:
//   id_key        HMAC-SHA-256 key for chunk IDs (dedup needs it: every writer has it)
//   meta_key      AES-256-GCM key for metadata objects (config, index, manifests, locks)
//   data_key      wraps the random per-pack data keys (packs carry their key, wrapped)
//   chunker_seed  seeds the content-defined chunker's gear table
// Separate keys, and per-pack data keys wrapped under a named algorithm, are what lets a later
// write-only host mode seal pack keys to a restore public key without a format change (see
// docs/FORMAT.md). A key slot (keys/<id>) holds the KeySet sealed under a key derived from a
// password with scrypt; any slot opens the repository, and slots can be added and removed.
//
// Slots are read before anything is authenticated, so opening treats every slot as hostile:
// a slot below the minimum scrypt cost (codec::kMinScrypt) is skipped (and named in the error if
// no slot opens); a slot's key commitment (an HMAC of its parameters, salt and ciphertext under
// a key derived from the password key) is checked before decryption; a slot whose plaintext is
// not a valid key set is "not this slot" and the search goes on. Slots written before the
// commitment existed still open (docs/FORMAT.md, "Key slots", says what that leaves open).
// A KeySet wipes its keys when destroyed. Host and user names from slots are made printable
// (control characters and invalid UTF-8 replaced) before list_key_slots returns them.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "codec/crypto.h"
#include "storage/storage.h"

namespace sr::repo {

struct KeySet {
  codec::Key32 id_key{}, meta_key{}, data_key{}, chunker_seed{};
  static KeySet generate();
  ~KeySet();  // wipes the keys (codec::wipe)
};

// What opens a key slot: a password (scrypt slots), or the content of a key file (32 random
// bytes, base64: "key" slots, for machines: no key stretching is needed for a full-entropy
// secret, so opening costs microseconds instead of scrypt's ~0.1 s per wal-push call).
struct Credential {
  std::string secret;
  bool key_file = false;
};

// A new random key file secret (base64 text).
std::string generate_key_file_secret();

struct KeySlotInfo {
  std::string id;
  int64_t created_ns = 0;
  std::string host, user;
  std::string kdf;
};

// Writes a new slot for `keys` under `password`; returns its id.
std::string add_key_slot(storage::Storage& storage, const KeySet& keys, std::string_view password,
                         const codec::ScryptParams& params = {});
std::string add_key_slot(storage::Storage& storage, const KeySet& keys,
                         const Credential& credential, const codec::ScryptParams& params = {});
// Tries every slot; returns the key set and the id of the slot that opened, or throws kAuth.
std::pair<KeySet, std::string> open_key_slots(storage::Storage& storage, std::string_view password);
std::pair<KeySet, std::string> open_key_slots(storage::Storage& storage,
                                              const Credential& credential);
std::vector<KeySlotInfo> list_key_slots(storage::Storage& storage);

// `text` with control characters (C0, DEL, C1), bidirectional overrides and invalid UTF-8
// replaced by '?', cut to 256 bytes: safe to print on a terminal and to put in JSON.
std::string printable_label(std::string_view text);

}  // namespace sr::repo

// repo/keys.h: the repository's key hierarchy, key generations, and password-protected key slots.
//
// A repository's KeySet:
//   id_key        HMAC-SHA-256 key for chunk ids (dedup needs it: every writer has it)
//   chunker_seed  seeds the content-defined chunker's gear table
//   generations   one or more KeyGenerations (0, 1, 2, …; the newest is what writers use):
//     meta_key        AES-256-GCM key for envelopes (config, index, manifests, locks, marks)
//     data_key        input key from which per-object pack and WAL keys are derived (HKDF)
//     restore pair    optional X25519 key pair: when present, pack and WAL keys of this
//                     generation are derived from X25519(ephemeral, restore public key), so a
//                     holder of the public key alone (a write-only host) cannot read them
// id_key and chunker_seed are never rotated (rotating them would defeat deduplication against
// every stored chunk; they let a holder confirm guesses of chunk contents, nothing more).
//
// Key slots (keys/<id>). Old-format slots (version 1, written by older binaries and in
// repositories that have no key ring) hold the key set sealed directly under the password; they
// know one generation (0). Ring slots (version 2) hold an X25519 key pair: the public key in
// clear, the private key sealed under the password-derived key, and the key of a *key ring*
// (keys/ring.<id>: every generation, sealed under a random ring key) sealed to the public key.
// Rotation (keys_ring.h) re-keys every ring slot without knowing its password. A ring slot also
// holds, sealed with its private key, an anchor (an HMAC under generation 0's data key) that the
// ring it opens must match: a ring substituted by someone without the data keys is refused.
//
// Slots are read before anything is authenticated, so opening treats every slot as hostile:
// a slot below the minimum scrypt cost (codec::kMinScrypt) is skipped (and named in the error if
// no slot opens); a slot's key commitment (an HMAC of its parameters, salt, ciphertext and public
// key under a key derived from the password key) is checked before decryption; a slot whose
// plaintext is not valid is "not this slot" and the search goes on. Slots written before the
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

struct KeyGeneration {
  uint32_t number = 0;
  codec::Key32 meta_key{}, data_key{};
  bool has_data_key = true;  // false in a write-only (writer) key set
  std::optional<codec::Key32> restore_public;
  std::optional<codec::Key32> restore_private;  // absent in a writer key set
  ~KeyGeneration();
};

struct KeySet {
  codec::Key32 id_key{}, chunker_seed{};
  std::vector<KeyGeneration> generations;  // ascending by number, never empty
  std::string ring_id;                     // the key ring it came from; "" without a ring
  codec::Key32 ring_key{};
  bool write_only = false;  // opened from a writer key file (no data keys, no restore key)

  // A new key set with one generation (0), without a restore key pair.
  static KeySet generate();
  const KeyGeneration& newest() const { return generations.back(); }
  // Throws kCorrupt for a generation this key set does not know.
  const KeyGeneration& generation(uint32_t number) const;
  ~KeySet();  // wipes the keys (codec::wipe)
};

// The message of the kAuth error for reading packs or WAL objects with a write-only key.
extern const char* const kWriteOnlyMessage;
// Generation `number`'s data key; kAuth (kWriteOnlyMessage) when the key set has none.
const codec::Key32& data_key_of(const KeySet& keys, uint32_t number);

// What opens a key slot: a password (scrypt slots), or the content of a key file (32 random
// bytes, base64: "key" slots, for machines: no key stretching is needed for a full-entropy
// secret, so opening costs microseconds instead of scrypt's ~0.1 s per wal-push call). A key
// file may also be a writer key file (JSON, `key export-writer`): it opens no slot.
struct Credential {
  std::string secret;
  bool key_file = false;
  ~Credential() { codec::wipe(secret); }
};

// A new random key file secret (base64 text).
std::string generate_key_file_secret();

struct KeySlotInfo {
  std::string id;
  int64_t created_ns = 0;
  std::string host, user;
  std::string kdf;
  int version = 1;  // 1: old format (key set under the password); 2: ring slot
};

// Writes a new slot for `keys` under the credential; returns its id. A key set with a ring
// (keys.ring_id) gets a ring slot, one without an old-format slot.
std::string add_key_slot(storage::Storage& storage, const KeySet& keys, std::string_view password,
                         const codec::ScryptParams& params = {});
std::string add_key_slot(storage::Storage& storage, const KeySet& keys,
                         const Credential& credential, const codec::ScryptParams& params = {});
// Rewrites slot `id` as a ring slot for `keys` (which must have a ring) under the credential
// that opens it (an old-format slot becomes a ring slot; same id).
void rewrite_key_slot(storage::Storage& storage, const KeySet& keys, const std::string& id,
                      const Credential& credential, const codec::ScryptParams& params = {});
// Tries every slot; returns the key set and the id of the slot that opened, or throws kAuth.
std::pair<KeySet, std::string> open_key_slots(storage::Storage& storage, std::string_view password);
std::pair<KeySet, std::string> open_key_slots(storage::Storage& storage,
                                              const Credential& credential);
// The key slots (key rings under keys/ are not slots).
std::vector<KeySlotInfo> list_key_slots(storage::Storage& storage);
bool is_ring_object(const std::string& key);  // "keys/ring.<id>"

// `text` with control characters (C0, DEL, C1), bidirectional overrides and invalid UTF-8
// replaced by '?', cut to 256 bytes: safe to print on a terminal and to put in JSON.
std::string printable_label(std::string_view text);

}  // namespace sr::repo

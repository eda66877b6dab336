// repo/pack.h: pack files: many encrypted chunks ("blobs") in one immutable object.
//
// Layout (see docs/FORMAT.md):
//   header  "SRPK" | key header (version 2: u8 2 | u8 wrap | u32 generation | 32 bytes)
//           (version 1, still read: u8 1 | u8 1 | seal(data_key, pack_key, aad header || name))
//   blobs   seal(pack_key, payload, aad = chunk_id || type || flags), back to back
//   trailer seal(pack_key, encoded entries, aad = "SRPK trailer" || name)
//   footer  u32 trailer length | "SRPK"
// Version 2 pack and WAL keys are derived, not wrapped (no ciphertext under a long-lived key,
// so no random-nonce budget on it):
//   wrap 2 (kWrapHkdf):   key = HKDF-SHA-256(generation's data_key, salt = 32 random bytes,
//                         info = "strongroom v2 <domain>|" || key header || name)
//   wrap 3 (kWrapX25519): the 32 bytes are an ephemeral X25519 public key E; key = HKDF(
//                         X25519(e, restore_pub), salt = E || restore_pub, same info); a reader
//                         computes X25519(restore_priv, E). Writers with only the public key
//                         cannot derive any such key for a stored object.
// Writers use the newest generation, wrap 3 when it has a restore key pair, else wrap 2. The key
// header (v1: the 60-byte wrapped key) is also kept in the index, so readers never need an extra
// read of the header. The trailer makes a pack self-describing (an index can be rebuilt from
// packs alone).
//
// PackWriter assembles a pack in a staging file and publishes it with Storage::put_file; it is
// not thread-safe (Repository serialises appends).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "codec/crypto.h"
#include "repo/keys.h"
#include "storage/storage.h"

namespace sr::repo {

enum class BlobType : uint8_t { kData = 0, kTree = 1 };
constexpr uint8_t kFlagCompressed = 1;

struct BlobEntry {
  codec::ChunkId id{};
  BlobType type = BlobType::kData;
  uint8_t flags = 0;
  uint64_t offset = 0;
  uint32_t length = 0;      // stored bytes (sealed)
  uint32_t raw_length = 0;  // plaintext bytes
};

struct PackInfo {
  std::string name;   // 64 hex characters
  Bytes wrapped_key;  // the key header (v2, kKeyHeaderSize bytes; v1: the 60-byte wrapped key)
  uint64_t size = 0;
  std::vector<BlobEntry> blobs;
};

std::string pack_object_key(const std::string& name);  // "data/ab/ab12…"

constexpr uint8_t kWrapAesGcm = 1;  // version 1: a random key sealed under data_key
constexpr uint8_t kWrapHkdf = 2;    // version 2: derived from data_key
constexpr uint8_t kWrapX25519 = 3;  // version 2: derived from X25519 with the restore key
constexpr size_t kKeyHeaderSize = 1 + 1 + 4 + 32;
constexpr size_t kLegacyWrappedKeySize = codec::kSealOverhead + 32;
constexpr size_t kPackHeaderSize = 4 + kKeyHeaderSize;
constexpr size_t kLegacyPackHeaderSize = 4 + 2 + kLegacyWrappedKeySize;

// A fresh per-object key for object `name` of `domain` ("pack", "wal") under the newest
// generation of `keys`: its key header (kKeyHeaderSize bytes) and the key.
struct ObjectKey {
  Bytes header;
  codec::Key32 key{};
  ~ObjectKey() { codec::wipe(key); }
};
ObjectKey new_object_key(const KeySet& keys, std::string_view domain, const std::string& name);
// The key of a version 2 object from its key header. kCorrupt for an unknown version, wrap or
// generation; kAuth (kWriteOnlyMessage) when `keys` lacks the private part.
codec::Key32 derive_object_key(const KeySet& keys, std::string_view domain, ByteSpan key_header,
                               const std::string& name);

// The pack key from its index form (v2 key header or v1 wrapped key; throws kCorrupt).
codec::Key32 unwrap_pack_key(const KeySet& keys, const std::string& pack_name, ByteSpan wrapped);
Bytes blob_aad(const codec::ChunkId& id, BlobType type, uint8_t flags);

void encode_blob_entries(ByteWriter& w, const std::vector<BlobEntry>& blobs);
std::vector<BlobEntry> decode_blob_entries(ByteReader& r);

// Parses a whole pack (header + trailer), returning its description. Throws kCorrupt.
PackInfo parse_pack(const KeySet& keys, const std::string& name, ByteSpan pack);

class PackWriter {
 public:
  // Writes a version 2 pack under the newest generation of `keys`.
  PackWriter(const KeySet& keys, const std::string& staging_dir);
  ~PackWriter();  // removes the staging file if finish() was not reached
  PackWriter(const PackWriter&) = delete;
  PackWriter& operator=(const PackWriter&) = delete;

  // Seals `payload` (already compressed when flags says so) and appends it.
  const BlobEntry& append(const codec::ChunkId& id, BlobType type, uint8_t flags, ByteSpan payload,
                          uint32_t raw_length);
  uint64_t size() const { return size_; }
  size_t count() const { return info_.blobs.size(); }
  const std::string& name() const { return info_.name; }
  // Writes the trailer and publishes the pack under data/…; returns its description.
  PackInfo finish(storage::Storage& storage);

 private:
  codec::Key32 pack_key_;
  std::string path_;
  int fd_ = -1;
  uint64_t size_ = 0;
  PackInfo info_;
  Bytes scratch_;
  bool broken_ = false;  // a write failed: the file position no longer matches size_
};

}  // namespace sr::repo

// repo/pack.h: pack files: many encrypted chunks ("blobs") in one immutable object.
//
// Layout (see docs/FORMAT.md):
//   header  "SRPK" | version=1 | wrap=1 | seal(data_key, pack_key, aad = header[0..6] || name)
//   blobs   seal(pack_key, payload, aad = chunk_id || type || flags), back to back
//   trailer seal(pack_key, encoded entries, aad = "SRPK trailer" || name)
//   footer  u32 trailer length | "SRPK"
// Each pack has its own random data key, wrapped under the repository's data key with the
// algorithm named in the header; the wrapped key is also kept in the index, so readers never
// need an extra read of the header. The trailer makes a pack self-describing (an index can be
// rebuilt from packs alone).
//
// PackWriter assembles a pack in a staging file and publishes it with Storage::put_file; it is
// not thread-safe (Repository serialises appends).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "codec/crypto.h"
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
  Bytes wrapped_key;  // the pack key sealed under the data key (60 bytes)
  uint64_t size = 0;
  std::vector<BlobEntry> blobs;
};

std::string pack_object_key(const std::string& name);  // "data/ab/ab12…"
constexpr size_t kPackHeaderSize = 4 + 1 + 1 + codec::kSealOverhead + 32;

// Unwraps a pack key from its wrapped form (throws kCorrupt).
codec::Key32 unwrap_pack_key(const codec::Key32& data_key, const std::string& pack_name,
                             ByteSpan wrapped);
Bytes blob_aad(const codec::ChunkId& id, BlobType type, uint8_t flags);

void encode_blob_entries(ByteWriter& w, const std::vector<BlobEntry>& blobs);
std::vector<BlobEntry> decode_blob_entries(ByteReader& r);

// Parses a whole pack (header + trailer), returning its description. Throws kCorrupt.
PackInfo parse_pack(const codec::Key32& data_key, const std::string& name, ByteSpan pack);

class PackWriter {
 public:
  PackWriter(const codec::Key32& data_key, const std::string& staging_dir);
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

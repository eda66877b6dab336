// Version 2 packs (issue 10, item 7): per-pack keys derived with HKDF (or X25519 for write-only
// hosts) instead of wrapped under the data key; version 1 packs (written here by a small copy
// of the old writer) still open; any change to the key header or the name fails authentication.
#include "repo/pack.h"

#include <gtest/gtest.h>

#include <cstring>

#include "base/random.h"
#include "storage/memory_storage.h"
#include "testing/temp_dir.h"

namespace sr::repo {
namespace {

Bytes chunk_payload() { return Bytes(1000, 'L'); }
codec::ChunkId some_id() {
  codec::ChunkId id;
  id.fill(7);
  return id;
}

// A version 1 pack with one blob, as strongroom wrote it before item 7.
Bytes legacy_pack(const codec::Key32& data_key, const std::string& name) {
  codec::Key32 pack_key = codec::random_key();
  Bytes out = {'S', 'R', 'P', 'K'};
  out.push_back(1);
  out.push_back(1);
  Bytes aad = out;
  aad.insert(aad.end(), name.begin(), name.end());
  codec::seal_append(data_key, pack_key, aad, out);
  BlobEntry e{some_id(), BlobType::kData, 0, out.size(), 0, 1000};
  codec::seal_append(pack_key, chunk_payload(), blob_aad(e.id, e.type, e.flags), out);
  e.length = static_cast<uint32_t>(out.size() - e.offset);
  ByteWriter w;
  encode_blob_entries(w, {e});
  Bytes trailer = codec::seal(pack_key, w.buffer(), as_bytes("SRPK trailer" + name));
  out.insert(out.end(), trailer.begin(), trailer.end());
  Bytes footer(8);
  store_le32(footer.data(), static_cast<uint32_t>(trailer.size()));
  std::memcpy(footer.data() + 4, "SRPK", 4);
  out.insert(out.end(), footer.begin(), footer.end());
  return out;
}

Bytes blob_plaintext(const KeySet& keys, const PackInfo& info, ByteSpan pack) {
  codec::Key32 k = unwrap_pack_key(keys, info.name, info.wrapped_key);
  const BlobEntry& b = info.blobs.at(0);
  return codec::open(k, pack.subspan(b.offset, b.length), blob_aad(b.id, b.type, b.flags), "t");
}

struct Written {
  std::string name;
  Bytes bytes;
};

Written write_pack(const KeySet& keys) {
  sr::testing::TempDir dir;
  storage::MemoryStorage mem("packs", dir.path());
  PackWriter w(keys, dir.path());
  w.append(some_id(), BlobType::kData, 0, chunk_payload(), 1000);
  PackInfo info = w.finish(mem);
  return {info.name, mem.get(pack_object_key(info.name))};
}

Errc parse_error(const KeySet& keys, const std::string& name, ByteSpan pack) {
  try {
    parse_pack(keys, name, pack);
  } catch (const Error& e) {
    return e.code();
  }
  return Errc::kInternal;  // parsed
}

TEST(Pack, NewPacksAreVersion2WithADerivedKeyAndRoundTrip) {
  KeySet keys = KeySet::generate();
  Written p = write_pack(keys);
  ASSERT_EQ(p.bytes[4], 2);
  EXPECT_EQ(p.bytes[5], kWrapHkdf);
  EXPECT_EQ(load_le32(p.bytes.data() + 6), 0u);  // generation
  PackInfo info = parse_pack(keys, p.name, p.bytes);
  EXPECT_EQ(info.wrapped_key.size(), kKeyHeaderSize);
  EXPECT_EQ(to_hex(blob_plaintext(keys, info, p.bytes)), to_hex(chunk_payload()));
  // Nothing under the data key is ciphertext: the header holds a salt, not a sealed key.
  EXPECT_EQ(info.wrapped_key, Bytes(p.bytes.begin() + 4, p.bytes.begin() + kPackHeaderSize));
}

TEST(Pack, Version1PacksStillOpen) {
  KeySet keys = KeySet::generate();
  std::string name = random_hex(32);
  Bytes pack = legacy_pack(keys.newest().data_key, name);
  PackInfo info = parse_pack(keys, name, pack);
  EXPECT_EQ(info.wrapped_key.size(), kLegacyWrappedKeySize);
  EXPECT_EQ(to_hex(blob_plaintext(keys, info, pack)), to_hex(chunk_payload()));
  KeySet other = KeySet::generate();
  EXPECT_EQ(parse_error(other, name, pack), Errc::kCorrupt);
}

TEST(Pack, ATamperedSaltVersionGenerationOrNameFailsAuthentication) {
  KeySet keys = KeySet::generate();
  Written p = write_pack(keys);
  for (size_t at : {size_t{4}, size_t{5}, size_t{6}, size_t{10}, size_t{41}}) {
    Bytes bad = p.bytes;
    bad[at] ^= 1;
    EXPECT_EQ(parse_error(keys, p.name, bad), Errc::kCorrupt) << "byte " << at;
  }
  std::string other_name = p.name;
  other_name[0] = other_name[0] == 'a' ? 'b' : 'a';
  EXPECT_EQ(parse_error(keys, other_name, p.bytes), Errc::kCorrupt);
  // The index form of the key header is checked the same way.
  PackInfo info = parse_pack(keys, p.name, p.bytes);
  Bytes header = info.wrapped_key;
  header[20] ^= 1;
  codec::Key32 wrong = unwrap_pack_key(keys, p.name, header);
  const BlobEntry& b = info.blobs[0];
  EXPECT_THROW(codec::open(wrong, ByteSpan(p.bytes).subspan(b.offset, b.length),
                           blob_aad(b.id, b.type, b.flags), "t"),
               Error);
}

TEST(Pack, ObjectsNameTheirGenerationAndNeedItsKey) {
  KeySet keys = KeySet::generate();
  KeySet rotated = keys;
  KeyGeneration& g = rotated.generations.emplace_back();
  g.number = 1;
  g.meta_key = codec::random_key();
  g.data_key = codec::random_key();
  Written p = write_pack(rotated);
  EXPECT_EQ(load_le32(p.bytes.data() + 6), 1u);
  EXPECT_NO_THROW(parse_pack(rotated, p.name, p.bytes));
  EXPECT_EQ(parse_error(keys, p.name, p.bytes), Errc::kCorrupt);  // generation 1 unknown
  // Generation 0's key alone (the old key material) does not open it.
  KeySet old_data = rotated;
  old_data.generations[1].data_key = keys.newest().data_key;
  EXPECT_EQ(parse_error(old_data, p.name, p.bytes), Errc::kCorrupt);
}

TEST(Pack, RestoreKeyPacksNeedTheRestorePrivateKey) {
  KeySet keys = KeySet::generate();
  codec::X25519Pair pair = codec::x25519_generate();
  keys.generations[0].restore_public = pair.pub;
  keys.generations[0].restore_private = pair.priv;
  KeySet writer = keys;  // what a writer key file holds
  writer.write_only = true;
  writer.generations[0].has_data_key = false;
  writer.generations[0].data_key = {};
  writer.generations[0].restore_private.reset();
  Written p = write_pack(writer);
  EXPECT_EQ(p.bytes[5], kWrapX25519);
  EXPECT_EQ(parse_error(writer, p.name, p.bytes), Errc::kAuth);
  PackInfo info = parse_pack(keys, p.name, p.bytes);
  EXPECT_EQ(to_hex(blob_plaintext(keys, info, p.bytes)), to_hex(chunk_payload()));
  // The data key does not open it either: only the restore private key does.
  KeySet no_restore = keys;
  no_restore.generations[0].restore_private = codec::x25519_generate().priv;
  EXPECT_EQ(parse_error(no_restore, p.name, p.bytes), Errc::kCorrupt);
}

}  // namespace
}  // namespace sr::repo

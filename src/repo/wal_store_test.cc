// Version 2 WAL objects (issue 10, item 7): derived per-object keys; version 1 objects (written
// here by a small copy of the old writer) still open; a changed key header or name fails.
#include "repo/wal_store.h"

#include <gtest/gtest.h>

#include <cstring>

namespace sr::repo {
namespace {

const std::string kKey = "wal/main/0000000100000000/000000010000000000000001";

Bytes segment() {
  Bytes b(1 << 20);
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<uint8_t>(i * 7 / 5);
  return b;
}

// A version 1 WAL object (payload version 2, uncompressed), as written before item 7.
Bytes legacy_wal(const codec::Key32& data_key, const std::string& key, ByteSpan content) {
  auto aad = [&key](const char* what) {
    Bytes a = {'S', 'R', 'W', 'L'};
    a.push_back(1);
    a.push_back(1);
    a.insert(a.end(), what, what + std::strlen(what));
    a.insert(a.end(), key.begin(), key.end());
    return a;
  };
  codec::Key32 file_key = codec::random_key();
  Bytes out = {'S', 'R', 'W', 'L'};
  out.push_back(1);
  out.push_back(1);
  codec::seal_append(data_key, file_key, aad("key"), out);
  ByteWriter payload;
  payload.u8(2);
  payload.u64(content.size());
  payload.u8(0);
  payload.raw(content);
  codec::seal_append(file_key, payload.buffer(), aad("wal"), out);
  return out;
}

TEST(WalObject, NewObjectsAreVersion2AndRoundTrip) {
  KeySet keys = KeySet::generate();
  Bytes sealed = seal_wal_object(keys, kKey, segment());
  ASSERT_EQ(sealed[4], 2);
  EXPECT_EQ(sealed[5], kWrapHkdf);
  EXPECT_LT(sealed.size(), segment().size());  // compressed
  EXPECT_EQ(open_wal_object(keys, kKey, sealed), segment());
  EXPECT_THROW(open_wal_object(KeySet::generate(), kKey, sealed), Error);
}

TEST(WalObject, Version1ObjectsStillOpen) {
  KeySet keys = KeySet::generate();
  Bytes old = legacy_wal(keys.newest().data_key, kKey, segment());
  EXPECT_EQ(open_wal_object(keys, kKey, old), segment());
  EXPECT_THROW(open_wal_object(keys, kKey + "x", old), Error);
}

TEST(WalObject, ATamperedKeyHeaderOrNameFailsAuthentication) {
  KeySet keys = KeySet::generate();
  Bytes sealed = seal_wal_object(keys, kKey, segment());
  for (size_t at : {size_t{4}, size_t{5}, size_t{7}, size_t{12}, size_t{41}}) {
    Bytes bad = sealed;
    bad[at] ^= 1;
    try {
      open_wal_object(keys, kKey, bad);
      ADD_FAILURE() << "opened with byte " << at << " changed";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kCorrupt) << at;
    }
  }
  EXPECT_THROW(open_wal_object(keys, "wal/main/0000000100000000/000000010000000000000002", sealed),
               Error);
}

TEST(WalObject, WriteOnlyKeysSealToTheRestoreKeyAndCannotOpen) {
  KeySet keys = KeySet::generate();
  codec::X25519Pair pair = codec::x25519_generate();
  keys.generations[0].restore_public = pair.pub;
  keys.generations[0].restore_private = pair.priv;
  KeySet writer = keys;
  writer.write_only = true;
  writer.generations[0].has_data_key = false;
  writer.generations[0].restore_private.reset();
  Bytes sealed = seal_wal_object(writer, kKey, segment());
  EXPECT_EQ(sealed[5], kWrapX25519);
  try {
    open_wal_object(writer, kKey, sealed);
    FAIL() << "a write-only key opened a WAL object";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kAuth);
    EXPECT_NE(std::string(e.what()).find("write-only key"), std::string::npos);
  }
  EXPECT_EQ(open_wal_object(keys, kKey, sealed), segment());
}

}  // namespace
}  // namespace sr::repo

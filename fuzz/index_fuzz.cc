// fuzz/index_fuzz.cc: repo::decode_index (the payload of an index/<id> object) on arbitrary bytes.
//
// Properties: throws sr::Error or returns packs with 64-hex names, 60-byte wrapped keys and blob
// entries that lie inside their pack (checked without overflow); the result re-encodes and
// decodes to the same thing.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "repo/index_file.h"
#include "repo/pack.h"

using namespace sr;
using namespace sr::repo;

static bool same_blobs(const std::vector<BlobEntry>& a, const std::vector<BlobEntry>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].id != b[i].id || a[i].type != b[i].type || a[i].flags != b[i].flags ||
        a[i].offset != b[i].offset || a[i].length != b[i].length ||
        a[i].raw_length != b[i].raw_length)
      return false;
  return true;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<PackInfo> packs;
  try {
    packs = decode_index(ByteSpan(data, size), "fuzz index");
  } catch (const Error&) {
    return 0;
  }
  for (const auto& p : packs) {
    FUZZ_CHECK(p.name.size() == 64);
    // A version 1 wrapped key (nonce | sealed key | tag) or a version 2 key header.
    FUZZ_CHECK(p.wrapped_key.size() == codec::kSealOverhead + 32 ||
               p.wrapped_key.size() == kKeyHeaderSize);
    for (const auto& b : p.blobs) {
      FUZZ_CHECK(b.type == BlobType::kData || b.type == BlobType::kTree);
      FUZZ_CHECK(b.length >= codec::kSealOverhead);
      // "blob outside its pack" must really mean outside: no wrap-around of offset + length.
      FUZZ_CHECK(b.offset <= p.size && b.length <= p.size - b.offset);
    }
  }
  Bytes again = encode_index(packs);
  std::vector<PackInfo> packs2;
  try {
    packs2 = decode_index(again, "fuzz index (re-encoded)");
  } catch (const Error& err) {
    std::fprintf(stderr, "re-encoded index does not decode: %s\n", err.what());
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(packs2.size() == packs.size());
  for (size_t i = 0; i < packs.size(); ++i) {
    FUZZ_CHECK(packs2[i].name == packs[i].name);
    FUZZ_CHECK(packs2[i].wrapped_key == packs[i].wrapped_key);
    FUZZ_CHECK(packs2[i].size == packs[i].size);
    FUZZ_CHECK(same_blobs(packs2[i].blobs, packs[i].blobs));
  }
  return 0;
}

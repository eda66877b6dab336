// fuzz/blob_entries_fuzz.cc: repo::decode_blob_entries (a pack trailer / the entries in an index)
// over a ByteReader on arbitrary bytes, then the rest of the reader's bytes.
//
// Properties: throws sr::Error or returns entries with sane lengths, the reader never moves past
// its data, and the entries re-encode and decode identically.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"

using namespace sr;
using namespace sr::repo;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteReader r(ByteSpan(data, size), "fuzz blob entries");
  std::vector<BlobEntry> blobs;
  try {
    blobs = decode_blob_entries(r);
  } catch (const Error&) {
    FUZZ_CHECK(r.pos() <= size);
    return 0;
  }
  FUZZ_CHECK(r.pos() <= size && r.pos() + r.remaining() == size);
  FUZZ_CHECK(blobs.size() <= size / 37);
  for (const auto& b : blobs) {
    FUZZ_CHECK(static_cast<uint8_t>(b.type) <= 1);
    FUZZ_CHECK(b.length >= codec::kSealOverhead && b.length <= (1u << 31));
    FUZZ_CHECK(b.raw_length <= (1u << 31));
  }
  ByteWriter w;
  encode_blob_entries(w, blobs);
  FUZZ_CHECK(w.buffer().size() <= r.pos());
  ByteReader r2(w.buffer(), "fuzz blob entries (re-encoded)");
  std::vector<BlobEntry> blobs2;
  try {
    blobs2 = decode_blob_entries(r2);
  } catch (const Error& err) {
    std::fprintf(stderr, "re-encoded entries do not decode: %s\n", err.what());
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(r2.done());
  FUZZ_CHECK(blobs2.size() == blobs.size());
  for (size_t i = 0; i < blobs.size(); ++i)
    FUZZ_CHECK(blobs2[i].id == blobs[i].id && blobs2[i].type == blobs[i].type &&
               blobs2[i].flags == blobs[i].flags && blobs2[i].offset == blobs[i].offset &&
               blobs2[i].length == blobs[i].length && blobs2[i].raw_length == blobs[i].raw_length);
  return 0;
}

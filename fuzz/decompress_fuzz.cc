// fuzz/decompress_fuzz.cc: codec::decompress_any (zstd frames from metadata envelopes) with a
// 1 MiB bound, and codec::decompress with an expected size taken from the input.
//
// Properties: throws sr::Error or returns at most max_size bytes; allocation stays bounded by the
// limit; compressing the output and decompressing it again gives the same bytes.
#include <cstddef>
#include <cstdint>

#include "codec/compress.h"
#include "fuzz_util.h"

using namespace sr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  constexpr size_t kMax = size_t{1} << 20;
  ByteSpan in(data, size);
  try {
    Bytes out = codec::decompress_any(in, kMax, "fuzz frame");
    FUZZ_CHECK(out.size() <= kMax);
    Bytes again = codec::decompress_any(codec::compress_always(out, 1), kMax, "fuzz round trip");
    FUZZ_CHECK(again == out);
  } catch (const Error&) {
  }
  // decompress() as read_blob uses it: the expected size comes from the (untrusted) index.
  if (size >= 3) {
    size_t expected = (size_t{data[0]} | size_t{data[1]} << 8 | size_t{data[2]} << 16) % kMax;
    Bytes out;
    try {
      codec::decompress(in.subspan(3), expected, out, "fuzz chunk");
      FUZZ_CHECK(out.size() == expected);
    } catch (const Error&) {
    }
  }
  return 0;
}

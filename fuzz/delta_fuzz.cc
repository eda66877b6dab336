// fuzz/delta_fuzz.cc: repo::decode_delta and apply_delta (a delta chunk's plaintext, both forms)
// against a piece whose length comes from the input.
//
// Properties: decoding throws sr::Error or returns ascending page numbers inside the piece;
// applying it throws sr::Error or patches the piece without changing its length (and never
// reads or writes outside it: ASan).
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "repo/tree.h"

using namespace sr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 3) return 0;
  // Piece length: up to 128 pages of 8 KiB, from the first three bytes.
  uint32_t length =
      (uint32_t{data[0]} | uint32_t{data[1]} << 8 | uint32_t{data[2]} << 16) % (128u * 8192u + 1);
  if (length == 0) return 0;
  ByteSpan in(data + 3, size - 3);
  repo::Delta d;
  try {
    d = repo::decode_delta(in, length, "fuzz delta");
  } catch (const Error&) {
    return 0;
  }
  for (size_t i = 0; i < d.pages.size(); ++i) {
    FUZZ_CHECK(uint64_t{d.pages[i]} * d.page_size < length);
    FUZZ_CHECK(i == 0 || d.pages[i] > d.pages[i - 1]);
  }
  FUZZ_CHECK(d.frames.empty() || d.frames.size() == d.pages.size());
  Bytes piece(length, 0x5a);
  try {
    repo::apply_delta(d, piece, "fuzz delta");
  } catch (const Error&) {
  }
  FUZZ_CHECK(piece.size() == length);
  return 0;
}

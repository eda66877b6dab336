#include "repo/tree.h"

#include <gtest/gtest.h>

#include <random>

namespace sr::repo {
namespace {

constexpr uint32_t kPage = 8192;

Bytes random_piece(size_t pages, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(pages * kPage);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

TEST(Delta, BothFormsRoundTrip) {
  Bytes base = random_piece(8, 1);
  Bytes piece = base;
  piece[2 * kPage + 17] ^= 0x55;
  piece[5 * kPage + 8000] ^= 0x01;
  const std::vector<uint16_t> pages{2, 5};
  for (bool prefixed : {false, true}) {
    Bytes enc = prefixed ? encode_prefixed_delta(kPage, pages, piece, base)
                         : encode_delta(kPage, pages, piece);
    Delta d = decode_delta(enc, static_cast<uint32_t>(piece.size()), "delta");
    EXPECT_EQ(d.pages, pages);
    EXPECT_EQ(d.frames.empty(), !prefixed);
    Bytes out = base;
    apply_delta(d, out, "delta");
    EXPECT_EQ(out, piece);
    if (prefixed) {
      EXPECT_LT(enc.size(), 200u);  // two frames of a few bytes, not 16 KiB
    }
  }
}

TEST(Delta, PrefixedDeltaOfAShortLastPage) {
  Bytes base = random_piece(3, 2);
  base.resize(2 * kPage + 100);  // a file that ends inside a page
  Bytes piece = base;
  piece.back() ^= 0xff;
  Bytes enc = encode_prefixed_delta(kPage, {2}, piece, base);
  Bytes out = base;
  apply_delta(decode_delta(enc, static_cast<uint32_t>(piece.size()), "delta"), out, "delta");
  EXPECT_EQ(out, piece);
}

TEST(Delta, MalformedDeltasAreRefused) {
  Bytes base = random_piece(4, 3);
  Bytes piece = base;
  piece[kPage] ^= 1;
  Bytes good = encode_prefixed_delta(kPage, {1}, piece, base);
  // Truncated, trailing bytes, a frame length beyond the end, a page beyond the piece.
  Bytes truncated(good.begin(), good.end() - 1);
  EXPECT_THROW(decode_delta(truncated, 4 * kPage, "delta"), Error);
  Bytes trailing = good;
  trailing.push_back(0);
  EXPECT_THROW(decode_delta(trailing, 4 * kPage, "delta"), Error);
  Bytes long_frame = good;
  long_frame[4 + 4 + 4 + 2] = 0x7f;  // the varint length of the only frame
  EXPECT_THROW(decode_delta(long_frame, 4 * kPage, "delta"), Error);
  EXPECT_THROW(decode_delta(good, kPage, "delta"), Error);  // page 1 of a one-page piece
  // Pages out of order.
  Bytes plain = encode_delta(kPage, {1, 2}, piece);
  std::swap(plain[8], plain[10]);
  EXPECT_THROW(decode_delta(plain, 4 * kPage, "delta"), Error);
}

}  // namespace
}  // namespace sr::repo

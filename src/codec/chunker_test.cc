#include "codec/chunker.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

namespace sr::codec {
namespace {

Bytes random_data(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  Bytes b(n);
  for (auto& x : b) x = static_cast<uint8_t>(rng());
  return b;
}

std::vector<size_t> cuts(Chunker& c, ByteSpan data) {
  std::vector<size_t> out;
  size_t pos = 0;
  c.reset();
  while (pos < data.size()) {
    auto n = c.scan(data.subspan(pos), true);
    EXPECT_TRUE(n.has_value());
    pos += *n;
    out.push_back(pos);
  }
  return out;
}

Key32 seed() {
  Key32 k{};
  k[0] = 7;
  return k;
}

TEST(CdcChunker, SizesRespectBoundsAndAverage) {
  ChunkerParams p;
  CdcChunker c(p, seed());
  Bytes data = random_data(64 << 20, 1);
  auto v = cuts(c, data);
  size_t prev = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    size_t len = v[i] - prev;
    EXPECT_LE(len, p.max_size);
    if (i + 1 < v.size()) {
      EXPECT_GE(len, p.min_size);
    }
    prev = v[i];
  }
  double avg = double(data.size()) / double(v.size());
  EXPECT_GT(avg, 0.6 * p.avg_size);
  EXPECT_LT(avg, 1.6 * p.avg_size);
}

TEST(CdcChunker, BoundariesStableUnderInsertion) {
  ChunkerParams p;
  CdcChunker c(p, seed());
  Bytes data = random_data(32 << 20, 2);
  auto before = cuts(c, data);
  Bytes edited = data;
  Bytes insert = random_data(1000, 3);
  size_t at = 10 << 20;
  edited.insert(edited.begin() + static_cast<ptrdiff_t>(at), insert.begin(), insert.end());
  auto after = cuts(c, edited);
  // Boundaries before the edit are identical; after it they are shifted by the insertion size.
  std::set<size_t> shifted;
  for (size_t b : before) shifted.insert(b < at ? b : b + insert.size());
  size_t common = 0;
  for (size_t b : after) common += shifted.count(b);
  EXPECT_GE(common + 3, after.size());  // at most a couple of chunks around the edit differ
}

TEST(CdcChunker, ResumableScanMatchesOneShot) {
  ChunkerParams p;
  CdcChunker a(p, seed()), b(p, seed());
  Bytes data = random_data(8 << 20, 4);
  auto one = cuts(a, data);
  // Feed b in 100 KiB increments.
  std::vector<size_t> inc;
  size_t start = 0, avail = 0;
  b.reset();
  while (start < data.size()) {
    avail = std::min(data.size(), avail + 100 * 1024);
    bool eof = avail == data.size();
    while (start < avail) {
      auto n = b.scan(ByteSpan(data).subspan(start, avail - start), eof);
      if (!n) break;
      start += *n;
      inc.push_back(start);
    }
  }
  EXPECT_EQ(one, inc);
}

TEST(CdcChunker, SeedChangesBoundaries) {
  ChunkerParams p;
  Key32 other = seed();
  other[1] = 1;
  CdcChunker a(p, seed()), b(p, other);
  Bytes data = random_data(16 << 20, 5);
  EXPECT_NE(cuts(a, data), cuts(b, data));
}

TEST(FixedChunker, CutsAtBlockSize) {
  FixedChunker f(8192);
  Bytes data = random_data(8192 * 3 + 100, 6);
  auto v = cuts(f, data);
  EXPECT_EQ(v, (std::vector<size_t>{8192, 16384, 24576, 24676}));
}

}  // namespace
}  // namespace sr::codec

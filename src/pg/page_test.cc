#include "pg/page.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>

namespace sr::pg {
namespace {

// PostgreSQL's checksum written the plain way (storage/checksum_impl.h): the vectorised
// page_checksum must give the same answer on any page.
uint16_t reference_checksum(ByteSpan page, uint32_t blkno) {
  static const uint32_t kBase[32] = {
      0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2,
      0x83E13D2C, 0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C,
      0xF718902A, 0x0B1C9CDB, 0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979,
      0xCCA6C0B2, 0x304A0979, 0x85AA43D4, 0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E,
      0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756};
  Bytes copy(page.begin(), page.end());
  copy[8] = copy[9] = 0;
  uint32_t sums[32];
  std::memcpy(sums, kBase, sizeof sums);
  auto comp = [](uint32_t& s, uint32_t v) {
    uint32_t t = s ^ v;
    s = t * 16777619u ^ (t >> 17);
  };
  for (size_t i = 0; i < copy.size() / 128; ++i)
    for (size_t j = 0; j < 32; ++j) {
      uint32_t v;
      std::memcpy(&v, copy.data() + i * 128 + j * 4, 4);
      comp(sums[j], v);
    }
  for (int round = 0; round < 2; ++round)
    for (auto& s : sums) comp(s, 0);
  uint32_t r = 0;
  for (uint32_t s : sums) r ^= s;
  r ^= blkno;
  return static_cast<uint16_t>(r % 65535 + 1);
}

TEST(PageChecksum, MatchesTheReferenceOnRandomPages) {
  std::mt19937_64 rng(42);
  Bytes page(8192);
  for (int n = 0; n < 200; ++n) {
    for (auto& b : page) b = static_cast<uint8_t>(rng());
    uint32_t blkno = static_cast<uint32_t>(rng());
    EXPECT_EQ(page_checksum(page, blkno), reference_checksum(page, blkno)) << n;
  }
}

TEST(PageChecksum, IgnoresTheStoredChecksumAndSeesEveryByte) {
  Bytes page(8192, 0x20);
  page[14] = 0x80;  // pd_upper != 0: an initialised page
  uint16_t c = page_checksum(page, 7);
  page[8] = 0x12;
  page[9] = 0x34;
  EXPECT_EQ(page_checksum(page, 7), c);  // pd_checksum does not count
  EXPECT_NE(page_checksum(page, 8), c);  // the block number does
  page[8] = static_cast<uint8_t>(c);
  page[9] = static_cast<uint8_t>(c >> 8);
  EXPECT_TRUE(page_checksum_ok(page, 7));
  for (size_t at : {size_t{0}, size_t{10}, size_t{127}, size_t{128}, size_t{4096}, size_t{8191}}) {
    Bytes bad = page;
    bad[at] ^= 1;
    EXPECT_FALSE(page_checksum_ok(bad, 7)) << at;
  }
}

TEST(PageHeader, SpecialSpaceOffset) {
  Bytes page(8192, 0);
  page[16] = 0xf0;  // pd_special = 0x1ff0: a B-tree page's 16-byte special space
  page[17] = 0x1f;
  EXPECT_EQ(page_special_offset(page), 0x1ff0);
  page[16] = 0x00;  // 0x2000 = the page size: no special space (heap)
  page[17] = 0x20;
  EXPECT_EQ(page_special_offset(page), 8192);
}

TEST(PageChecksum, NewPagesMustBeAllZero) {
  Bytes page(8192, 0);
  EXPECT_TRUE(page_checksum_ok(page, 3));
  page[100] = 1;  // pd_upper still 0, but not all zero
  EXPECT_FALSE(page_checksum_ok(page, 3));
}

}  // namespace
}  // namespace sr::pg

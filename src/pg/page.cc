#include "pg/page.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace sr::pg {

namespace {
constexpr int kSums = 32;
constexpr uint32_t kPrime = 16777619;
constexpr uint32_t kBase[kSums] = {
    0x5B1F36E9, 0xB8525960, 0x02AB50AA, 0x1DE66D2A, 0x79FF467A, 0x9BB9F8A3, 0x217E7CD2, 0x83E13D2C,
    0xF8D4474F, 0xE39EB970, 0x42C6AE16, 0x993216FA, 0x7B093B5D, 0x98DAFF3C, 0xF718902A, 0x0B1C9CDB,
    0xE58F764B, 0x187636BC, 0x5D7B3BB1, 0xE73DE7DE, 0x92BEC979, 0xCCA6C0B2, 0x304A0979, 0x85AA43D4,
    0x783125BB, 0x6CA8EAA2, 0xE407EAC6, 0x4B5CFC3E, 0x9FBF8C76, 0x15CA20BE, 0xF2CA9FD3, 0x959BD756};

// One row is kSums 32-bit words in native byte order, as PostgreSQL reads them. The loop has no
// branch and a fixed width, so the compiler turns it into vector multiplies; target_clones picks
// the widest the CPU has at load time (PostgreSQL builds its checksum with -ftree-vectorize for
// the same reason). Scalar, this was 16 % of a full backup's CPU.
[[gnu::target_clones("avx512f", "avx2", "default")]] void mix_rows(const uint8_t* data, size_t rows,
                                                                   uint32_t* sums_io) {
  uint32_t sums[kSums];  // local, so the sums stay in vector registers across rows
  std::memcpy(sums, sums_io, sizeof sums);
  for (size_t r = 0; r < rows; ++r) {
    uint32_t v[kSums];
    std::memcpy(v, data + r * sizeof v, sizeof v);
#pragma GCC unroll 32
    for (int j = 0; j < kSums; ++j) {
      uint32_t t = sums[j] ^ v[j];
      sums[j] = t * kPrime ^ (t >> 17);
    }
  }
  std::memcpy(sums_io, sums, sizeof sums);
}

inline uint16_t le16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | p[1] << 8); }
}  // namespace

uint16_t page_checksum(ByteSpan page, uint32_t block_number) {
  static_assert(std::endian::native == std::endian::little, "pd_checksum masking assumes LE");
  constexpr size_t kRow = kSums * sizeof(uint32_t);
  uint32_t sums[kSums];
  std::memcpy(sums, kBase, sizeof sums);
  const size_t rows = page.size() / kRow;
  if (rows > 0) {
    // The first row with pd_checksum (bytes 8-9) counted as zero.
    uint8_t first[kRow];
    std::memcpy(first, page.data(), kRow);
    first[8] = first[9] = 0;
    mix_rows(first, 1, sums);
    mix_rows(page.data() + kRow, rows - 1, sums);
  }
  uint32_t zeros[kSums] = {};
  mix_rows(reinterpret_cast<const uint8_t*>(zeros), 1, sums);
  mix_rows(reinterpret_cast<const uint8_t*>(zeros), 1, sums);
  uint32_t result = 0;
  for (uint32_t s : sums) result ^= s;
  result ^= block_number;
  return static_cast<uint16_t>(result % 65535 + 1);
}

uint16_t page_stored_checksum(ByteSpan page) { return le16(page.data() + 8); }

uint64_t page_lsn(ByteSpan page) {
  // pd_lsn is {uint32 xlogid; uint32 xrecoff}, each in native (little-endian) order.
  return uint64_t{load_le32(page.data())} << 32 | load_le32(page.data() + 4);
}

bool page_is_new(ByteSpan page) { return le16(page.data() + 14) == 0; }

uint16_t page_special_offset(ByteSpan page) { return le16(page.data() + 16); }

bool page_checksum_ok(ByteSpan page, uint32_t block_number) {
  if (page_is_new(page))
    return std::all_of(page.begin(), page.end(), [](uint8_t b) { return b == 0; });
  return page_checksum(page, block_number) == page_stored_checksum(page);
}

}  // namespace sr::pg

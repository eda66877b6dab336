// pg/page.h: PostgreSQL data pages: the page checksum and the header fields a backup reads.
//
// page_checksum() is PostgreSQL's algorithm (storage/checksum_impl.h, described in its docs):
// 32 interleaved FNV-1a-style sums over the page as little-endian 32-bit words with pd_checksum
// taken as zero, two extra rounds of zeros, the sums XORed together, the block number mixed in,
// folded to 1..65535. A page that was never initialised (all zero) has no checksum.
#pragma once

#include <cstdint>

#include "base/bytes.h"

namespace sr::pg {

uint16_t page_checksum(ByteSpan page, uint32_t block_number);
uint16_t page_stored_checksum(ByteSpan page);
uint64_t page_lsn(ByteSpan page);
bool page_is_new(ByteSpan page);  // pd_upper == 0: never initialised
// pd_special: where the access method's special space starts (the page size when there is none,
// as on heap pages; indexes keep their per-page data there).
uint16_t page_special_offset(ByteSpan page);
// True when the page's checksum is right, or the page is new (all zero).
bool page_checksum_ok(ByteSpan page, uint32_t block_number);

}  // namespace sr::pg

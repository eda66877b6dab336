#include "codec/chunker.h"

#include <bit>

namespace sr::codec {

void ChunkerParams::validate() const {
  if (min_size < 64 || min_size >= avg_size || avg_size >= max_size || max_size > (64u << 20) ||
      !std::has_single_bit(avg_size))
    throw Error(Errc::kCorrupt, "invalid chunker parameters in repository config");
}

CdcChunker::CdcChunker(const ChunkerParams& params, const Key32& seed) : params_(params) {
  params_.validate();
  int bits = std::countr_zero(params_.avg_size);
  // Top bits of the gear hash depend on the last 64 bytes; test those. Normalized chunking
  // (level 2): two more bits before the average size, two fewer after it.
  mask_small_ = ~uint64_t{0} << (64 - (bits + 2));
  mask_large_ = ~uint64_t{0} << (64 - (bits - 2));
  for (int i = 0; i < 256; i += 4) {
    uint8_t msg[5] = {'g', 'e', 'a', 'r', static_cast<uint8_t>(i)};
    Key32 h = hmac_sha256(seed, msg);
    for (int j = 0; j < 4; ++j) {
      uint64_t v = 0;
      for (int k = 0; k < 8; ++k) v |= uint64_t(h[8 * j + k]) << (8 * k);
      gear_[static_cast<size_t>(i + j)] = v;
    }
  }
}

std::optional<size_t> CdcChunker::scan(ByteSpan data, bool eof) {
  const size_t n = data.size();
  const size_t limit = std::min<size_t>(n, params_.max_size);
  if (pos_ < params_.min_size) pos_ = std::min<size_t>(params_.min_size, limit);
  const size_t normal = std::min<size_t>(params_.avg_size, limit);
  const uint8_t* p = data.data();
  uint64_t h = hash_;
  size_t i = pos_;
  for (; i < normal; ++i) {
    h = (h << 1) + gear_[p[i]];
    if (!(h & mask_small_)) {
      reset();
      return i + 1;
    }
  }
  for (; i < limit; ++i) {
    h = (h << 1) + gear_[p[i]];
    if (!(h & mask_large_)) {
      reset();
      return i + 1;
    }
  }
  if (limit == params_.max_size || eof) {
    reset();
    return limit;
  }
  pos_ = i;
  hash_ = h;
  return std::nullopt;
}

}  // namespace sr::codec

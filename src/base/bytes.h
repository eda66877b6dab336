// base/bytes.h: byte buffers, hex, little-endian encoding and a bounds-checked reader.
//
// ByteReader is what every parser of untrusted bytes uses: each read checks the remaining length
// and throws Error{kCorrupt} naming `what` instead of reading past the end.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/error.h"

namespace sr {

using Bytes = std::vector<uint8_t>;
using ByteSpan = std::span<const uint8_t>;

std::string to_hex(ByteSpan data);
Bytes from_hex(std::string_view hex);  // throws kUsage on bad input
std::string base64_encode(ByteSpan data);
Bytes base64_decode(std::string_view text);  // throws kCorrupt on bad input

inline ByteSpan as_bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
inline std::string_view as_chars(ByteSpan b) {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

class ByteWriter {
 public:
  void u8(uint8_t v) { buf_.push_back(v); }
  void u32(uint32_t v) { put_le(v, 4); }
  void u64(uint64_t v) { put_le(v, 8); }
  void i64(int64_t v) { put_le(static_cast<uint64_t>(v), 8); }
  void varint(uint64_t v) {
    while (v >= 0x80) {
      buf_.push_back(static_cast<uint8_t>(v | 0x80));
      v >>= 7;
    }
    buf_.push_back(static_cast<uint8_t>(v));
  }
  void raw(ByteSpan b) { buf_.insert(buf_.end(), b.begin(), b.end()); }
  void bytes(ByteSpan b) {  // length-prefixed
    varint(b.size());
    raw(b);
  }
  void str(std::string_view s) { bytes(as_bytes(s)); }
  Bytes& buffer() { return buf_; }
  Bytes take() { return std::move(buf_); }

 private:
  void put_le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) buf_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  Bytes buf_;
};

class ByteReader {
 public:
  ByteReader(ByteSpan data, std::string what) : data_(data), what_(std::move(what)) {}
  uint8_t u8() { return static_cast<uint8_t>(get_le(1)); }
  uint32_t u32() { return static_cast<uint32_t>(get_le(4)); }
  uint64_t u64() { return get_le(8); }
  int64_t i64() { return static_cast<int64_t>(get_le(8)); }
  uint64_t varint();
  ByteSpan raw(size_t n);
  ByteSpan bytes() { return raw(checked_size(varint())); }
  std::string str() {
    auto b = bytes();
    return std::string(as_chars(b));
  }
  size_t remaining() const { return data_.size() - pos_; }
  bool done() const { return pos_ == data_.size(); }
  size_t pos() const { return pos_; }
  [[noreturn]] void fail(const std::string& why) const;

 private:
  size_t checked_size(uint64_t n) const {
    if (n > remaining()) fail("length " + std::to_string(n) + " exceeds the remaining bytes");
    return static_cast<size_t>(n);
  }
  uint64_t get_le(int n);
  ByteSpan data_;
  size_t pos_ = 0;
  std::string what_;
};

inline void store_le32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t load_le32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}

}  // namespace sr

#include "base/bytes.h"

#include <openssl/evp.h>

namespace sr {

std::string to_hex(ByteSpan data) {
  static const char* kDigits = "0123456789abcdef";
  std::string out(data.size() * 2, '0');
  for (size_t i = 0; i < data.size(); ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Bytes from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) throw Error(Errc::kUsage, "invalid hex string (odd length)");
  Bytes out(hex.size() / 2);
  for (size_t i = 0; i < out.size(); ++i) {
    int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) throw Error(Errc::kUsage, "invalid hex string");
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string base64_encode(ByteSpan data) {
  std::string out(4 * ((data.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data.data(),
                          static_cast<int>(data.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

Bytes base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) throw Error(Errc::kCorrupt, "invalid base64 text");
  Bytes out(3 * text.size() / 4 + 1);
  int n = EVP_DecodeBlock(out.data(), reinterpret_cast<const unsigned char*>(text.data()),
                          static_cast<int>(text.size()));
  if (n < 0) throw Error(Errc::kCorrupt, "invalid base64 text");
  size_t len = static_cast<size_t>(n);
  // EVP_DecodeBlock keeps the padding bytes as zeros; drop them.
  if (!text.empty() && text.back() == '=') --len;
  if (text.size() >= 2 && text[text.size() - 2] == '=') --len;
  out.resize(len);
  return out;
}

uint64_t ByteReader::varint() {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    uint8_t b = u8();
    v |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) return v;
  }
  fail("varint too long");
}

ByteSpan ByteReader::raw(size_t n) {
  if (n > remaining()) fail("truncated (wanted " + std::to_string(n) + " bytes)");
  ByteSpan out = data_.subspan(pos_, n);
  pos_ += n;
  return out;
}

uint64_t ByteReader::get_le(int n) {
  auto b = raw(static_cast<size_t>(n));
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= uint64_t(b[i]) << (8 * i);
  return v;
}

void ByteReader::fail(const std::string& why) const {
  throw Error(Errc::kCorrupt, what_ + " is damaged: " + why + " at byte " + std::to_string(pos_));
}

}  // namespace sr

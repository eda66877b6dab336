#include "repo/index_file.h"

namespace sr::repo {

Bytes encode_index(const std::vector<PackInfo>& packs) {
  ByteWriter w;
  w.u8(1);
  w.varint(packs.size());
  for (const auto& p : packs) {
    w.raw(from_hex(p.name));
    w.bytes(p.wrapped_key);
    w.varint(p.size);
    encode_blob_entries(w, p.blobs);
  }
  return w.take();
}

std::vector<PackInfo> decode_index(ByteSpan payload, const std::string& what) {
  ByteReader r(payload, what);
  if (r.u8() != 1) r.fail("unsupported index version");
  uint64_t n = r.varint();
  if (n > r.remaining() / 32) r.fail("too many packs");
  std::vector<PackInfo> packs(static_cast<size_t>(n));
  for (auto& p : packs) {
    p.name = to_hex(r.raw(32));
    auto wk = r.bytes();
    if (wk.size() != kLegacyWrappedKeySize && wk.size() != kKeyHeaderSize)
      r.fail("bad wrapped key size");
    p.wrapped_key.assign(wk.begin(), wk.end());
    p.size = r.varint();
    p.blobs = decode_blob_entries(r);
    for (const auto& b : p.blobs)
      if (b.offset > p.size || b.length > p.size - b.offset) r.fail("blob outside its pack");
  }
  if (!r.done()) r.fail("trailing bytes");
  return packs;
}

}  // namespace sr::repo

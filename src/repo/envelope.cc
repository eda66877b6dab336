#include "repo/envelope.h"

#include <cstring>

#include "codec/compress.h"

namespace sr::repo {

namespace {
constexpr char kMagic[4] = {'S', 'R', 'E', '1'};
constexpr size_t kHeader = 5;
constexpr size_t kMaxPayload = size_t{1} << 30;

Bytes aad_for(EnvelopeKind kind, const std::string& object_key) {
  Bytes aad(kMagic, kMagic + 4);
  aad.push_back(static_cast<uint8_t>(kind));
  aad.insert(aad.end(), object_key.begin(), object_key.end());
  return aad;
}
}  // namespace

Bytes seal_envelope(const codec::Key32& meta_key, EnvelopeKind kind, const std::string& object_key,
                    ByteSpan payload) {
  Bytes out(kMagic, kMagic + 4);
  out.push_back(static_cast<uint8_t>(kind));
  Bytes compressed = codec::compress_always(payload, 3);
  codec::seal_append(meta_key, compressed, aad_for(kind, object_key), out);
  return out;
}

Bytes open_envelope(const codec::Key32& meta_key, EnvelopeKind kind, const std::string& object_key,
                    ByteSpan stored) {
  if (stored.size() < kHeader + codec::kSealOverhead ||
      std::memcmp(stored.data(), kMagic, 4) != 0 || stored[4] != static_cast<uint8_t>(kind))
    throw Error(Errc::kCorrupt,
                object_key + " is damaged: not a strongroom object of the expected kind");
  Bytes compressed =
      codec::open(meta_key, stored.subspan(kHeader), aad_for(kind, object_key), object_key.c_str());
  return codec::decompress_any(compressed, kMaxPayload, object_key.c_str());
}

}  // namespace sr::repo

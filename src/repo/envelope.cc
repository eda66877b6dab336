#include "repo/envelope.h"

#include <cstring>

#include "codec/compress.h"

namespace sr::repo {

namespace {
constexpr char kMagic1[4] = {'S', 'R', 'E', '1'};
constexpr char kMagic2[4] = {'S', 'R', 'E', '2'};
constexpr size_t kHeader1 = 5;
constexpr size_t kHeader2 = 9;
constexpr size_t kMaxPayload = size_t{1} << 30;

Bytes aad_for(ByteSpan header, const std::string& object_key) {
  Bytes aad(header.begin(), header.end());
  aad.insert(aad.end(), object_key.begin(), object_key.end());
  return aad;
}
}  // namespace

Bytes seal_envelope(const KeySet& keys, EnvelopeKind kind, const std::string& object_key,
                    ByteSpan payload) {
  const KeyGeneration& g = keys.newest();
  Bytes out(g.number == 0 ? kMagic1 : kMagic2, (g.number == 0 ? kMagic1 : kMagic2) + 4);
  out.push_back(static_cast<uint8_t>(kind));
  if (g.number != 0) {
    out.resize(kHeader2);
    store_le32(out.data() + kHeader1, g.number);
  }
  Bytes compressed = codec::compress_always(payload, 3);
  codec::seal_append(g.meta_key, compressed, aad_for(out, object_key), out);
  return out;
}

Bytes open_envelope(const KeySet& keys, EnvelopeKind kind, const std::string& object_key,
                    ByteSpan stored) {
  bool v1 = stored.size() >= 4 && std::memcmp(stored.data(), kMagic1, 4) == 0;
  bool v2 = stored.size() >= 4 && std::memcmp(stored.data(), kMagic2, 4) == 0;
  size_t header = v2 ? kHeader2 : kHeader1;
  if ((!v1 && !v2) || stored.size() < header + codec::kSealOverhead ||
      stored[4] != static_cast<uint8_t>(kind))
    throw Error(Errc::kCorrupt,
                object_key + " is damaged: not a strongroom object of the expected kind");
  uint32_t generation = v2 ? load_le32(stored.data() + kHeader1) : 0;
  const KeyGeneration* g = nullptr;
  try {
    g = &keys.generation(generation);
  } catch (const Error&) {
    throw Error(Errc::kCorrupt, object_key + " names key generation " + std::to_string(generation) +
                                    ", which this key does not have");
  }
  Bytes compressed = codec::open(g->meta_key, stored.subspan(header),
                                 aad_for(stored.first(header), object_key), object_key.c_str());
  return codec::decompress_any(compressed, kMaxPayload, object_key.c_str());
}

}  // namespace sr::repo

// fuzz/pack_fuzz.cc: repo::parse_pack with a fixed data key and pack name.
//
// Input byte 0 picks the mode:
//   even: the rest is the whole pack file, parsed as stored bytes (almost everything fails
//         authentication of the header or trailer; mutations of seeds exercise the framing).
//   odd:  "forged" pack: bytes 1-2 (LE) give a body length (mod 4096), then that many body
//         bytes, and the rest is the trailer *plaintext*. The target seals it with the fixed
//         keys (build_pack), so the code after authentication (entry decoding, range checks) is
//         reached by every input, as it would be for a pack written by a buggy or hostile
//         key holder.
// (The fixed key set has generation 0 only; build_pack writes version 1 packs, the form a
// mutation can authenticate: a version 2 key header derives a key the fuzzer cannot forge.)
// Properties: throws sr::Error or returns an info whose blobs all lie between the header and
// the trailer (checked without overflow) and whose wrapped key unwraps.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"

using namespace sr;
using namespace sr::repo;

static void check(const PackInfo& info, ByteSpan pack) {
  FUZZ_CHECK(info.name == fuzz::pack_name());
  FUZZ_CHECK(info.size == pack.size());
  FUZZ_CHECK(info.wrapped_key.size() == kLegacyPackHeaderSize - 6);
  uint32_t tlen = load_le32(pack.data() + pack.size() - 8);
  FUZZ_CHECK(tlen <= pack.size() - kLegacyPackHeaderSize - 8);
  uint64_t tstart = pack.size() - 8 - tlen;
  for (const auto& b : info.blobs) {
    FUZZ_CHECK(b.length >= codec::kSealOverhead);
    // Every blob must lie in [header end, trailer start): no wrap-around of offset + length.
    FUZZ_CHECK(b.offset >= kLegacyPackHeaderSize && b.offset <= tstart &&
               b.length <= tstart - b.offset);
  }
  (void)unwrap_pack_key(fuzz::keys(), info.name, info.wrapped_key);  // must not throw now
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  static const repo::KeySet& key = fuzz::keys();
  ByteSpan in(data + 1, size - 1);
  Bytes forged;
  ByteSpan pack = in;
  if (data[0] & 1) {
    if (in.size() < 2) return 0;
    size_t body_len = (size_t{in[0]} | size_t{in[1]} << 8) % 4096;
    in = in.subspan(2);
    if (body_len > in.size()) body_len = in.size();
    forged = fuzz::build_pack(in.first(body_len), in.subspan(body_len));
    pack = forged;
  }
  PackInfo info;
  try {
    info = parse_pack(key, fuzz::pack_name(), pack);
  } catch (const Error&) {
    return 0;
  }
  check(info, pack);
  return 0;
}

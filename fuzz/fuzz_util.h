// fuzz/fuzz_util.h: shared helpers for the libFuzzer targets (fuzz/*_fuzz.cc) and make_seeds.cc.
//
// Fixed keys and names: the targets open objects with keys known at build time, so seeds made by
// make_seeds.cc authenticate and the fuzzer can mutate from valid objects. build_pack() assembles
// a pack exactly as docs in repo/pack.h describe it; make_seeds checks the result with
// parse_pack(), so a format change that breaks it shows up there, not as silent fuzzing of junk.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

#include "base/bytes.h"
#include "codec/crypto.h"
#include "repo/envelope.h"
#include "repo/pack.h"

// A failed property check: print and abort so libFuzzer records a crash with the reproducer.
#define FUZZ_CHECK(cond)                                                                  \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace sr::fuzz {

inline codec::Key32 fixed_key(uint8_t salt) {
  codec::Key32 k;
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<uint8_t>(i * 7 + salt);
  return k;
}
inline codec::Key32 data_key() { return fixed_key(1); }
inline codec::Key32 meta_key() { return fixed_key(2); }
inline codec::Key32 pack_key() { return fixed_key(3); }
// A key set with one generation (0) made of the fixed keys above.
inline const repo::KeySet& keys() {
  static const repo::KeySet k = [] {
    repo::KeySet ks;
    ks.id_key = fixed_key(3);
    ks.chunker_seed = fixed_key(4);
    repo::KeyGeneration& g = ks.generations.emplace_back();
    g.meta_key = meta_key();
    g.data_key = data_key();
    return ks;
  }();
  return k;
}
inline const std::string& pack_name() {
  static const std::string n = "5a" + std::string(62, '0');
  return n;
}

// The storage key an envelope of `kind` is opened under in the envelope target. (`default`, not
// a full enumeration, so adding an EnvelopeKind does not break the -Werror build of the targets.)
inline std::string envelope_object_key(repo::EnvelopeKind kind) {
  switch (kind) {
    case repo::EnvelopeKind::kConfig:
      return "config";
    case repo::EnvelopeKind::kIndex:
      return "index/" + std::string(64, 'a');
    case repo::EnvelopeKind::kManifest:
      return "manifests/" + std::string(32, 'b');
    case repo::EnvelopeKind::kLock:
      return "locks/" + std::string(32, 'c');
    default:
      return "kind" + std::to_string(static_cast<int>(kind)) + "/" + std::string(32, 'd');
  }
}

// Authenticated data of a pack's header and trailer (mirrors repo/pack.cc).
inline Bytes pack_header_aad(const std::string& name) {
  Bytes aad = {'S', 'R', 'P', 'K', 1, 1};
  aad.insert(aad.end(), name.begin(), name.end());
  return aad;
}
inline Bytes pack_trailer_aad(const std::string& name) {
  std::string s = "SRPK trailer" + name;
  return Bytes(s.begin(), s.end());
}

// A version 1 pack (the wrapped-key form, still read):
// header | body (opaque blob bytes) | sealed trailer | footer. `trailer_plain` is the encoded
// blob entries (or anything else: the fuzz target passes its input here).
inline Bytes build_pack(ByteSpan body, ByteSpan trailer_plain) {
  Bytes out = {'S', 'R', 'P', 'K', 1, 1};
  codec::Key32 pk = pack_key();
  codec::seal_append(data_key(), pk, pack_header_aad(pack_name()), out);
  out.insert(out.end(), body.begin(), body.end());
  size_t before = out.size();
  codec::seal_append(pk, trailer_plain, pack_trailer_aad(pack_name()), out);
  uint32_t tlen = static_cast<uint32_t>(out.size() - before);
  uint8_t footer[8] = {0, 0, 0, 0, 'S', 'R', 'P', 'K'};
  store_le32(footer, tlen);
  out.insert(out.end(), footer, footer + 8);
  return out;
}

}  // namespace sr::fuzz

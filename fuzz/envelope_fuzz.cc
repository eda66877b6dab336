// fuzz/envelope_fuzz.cc: repo::open_envelope (config, index, manifest and lock objects) with a
// fixed meta key, on arbitrary bytes.
//
// The kind opened is the one named by byte 4 of the input (1 if it is 0), so the kind check
// passes whenever the fuzzer keeps the magic and the authentication is what is exercised. A
// payload that opens (the seeds do) is handed on to its parser (decode_index, Manifest).
// Also checks that seal_envelope/open_envelope round-trip the input as a payload.
#include <cstddef>
#include <cstdint>
#include <cstring>

#include "fuzz_util.h"
#include "repo/index_file.h"
#include "repo/manifest.h"

using namespace sr;
using namespace sr::repo;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const repo::KeySet& key = fuzz::keys();
  ByteSpan in(data, size);
  // Any kind byte is a valid EnvelopeKind value (fixed uint8_t underlying type), so kinds added
  // later are covered too.
  uint8_t k = size > 4 && data[4] != 0 ? data[4] : 1;
  auto kind = static_cast<EnvelopeKind>(k);
  std::string object_key = fuzz::envelope_object_key(kind);
  try {
    Bytes payload = open_envelope(key, kind, object_key, in);
    if (kind == EnvelopeKind::kIndex) {
      (void)decode_index(payload, object_key);
    } else if (kind == EnvelopeKind::kManifest) {
      Manifest::from_json(nlohmann::json::parse(as_chars(payload)));
    }
  } catch (const Error&) {
  } catch (const nlohmann::json::exception&) {
  }

  // Round trip: the input as a payload, sealed then opened, under another object key too.
  if (size <= 4096) {
    Bytes sealed = seal_envelope(key, kind, object_key, in);
    Bytes opened = open_envelope(key, kind, object_key, sealed);
    FUZZ_CHECK(opened.size() == size && (size == 0 || std::memcmp(opened.data(), data, size) == 0));
    bool moved_fails = false;
    try {
      open_envelope(key, kind, object_key + "x", sealed);
    } catch (const Error& e) {
      moved_fails = e.code() == Errc::kCorrupt;
    }
    FUZZ_CHECK(moved_fails);  // an object copied to another key must not authenticate
  }
  return 0;
}

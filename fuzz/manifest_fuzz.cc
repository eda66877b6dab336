// fuzz/manifest_fuzz.cc: repo::Manifest::from_json after nlohmann::json::parse of arbitrary
// bytes (the payload of a manifests/<id> envelope, as Repository::load_manifest parses it).
//
// Properties: throws sr::Error (or json::exception from parse) or returns a manifest whose tree
// ids are 64 hex characters (TreeReader and verify hex-decode them); to_json/from_json round-trip.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "repo/manifest.h"

using namespace sr;
using namespace sr::repo;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json j;
  try {
    j = json::parse(as_chars(ByteSpan(data, size)));
  } catch (const json::exception&) {
    return 0;
  }
  Manifest m;
  try {
    m = Manifest::from_json(j);
  } catch (const Error&) {
    return 0;
  } catch (const json::exception&) {
    std::fprintf(stderr, "from_json let a json::exception escape (should be sr::Error)\n");
    FUZZ_CHECK(false);
  }
  for (const auto& t : m.tree) {
    FUZZ_CHECK(t.size() == 64);
    bool hex_ok = true;
    try {
      (void)from_hex(t);
    } catch (const Error&) {
      hex_ok = false;
    }
    if (!hex_ok) std::fprintf(stderr, "accepted tree id that is not hex: %s\n", t.c_str());
    FUZZ_CHECK(hex_ok);
  }
  FUZZ_CHECK(m.extra.is_object());
  Manifest m2;
  try {
    m2 = Manifest::from_json(m.to_json());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "to_json output does not parse back: %s\n", e.what());
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(m2.id == m.id && m2.type == m.type && m2.time_ns == m.time_ns &&
             m2.end_time_ns == m.end_time_ns && m2.tree == m.tree && m2.paths == m.paths &&
             m2.size == m.size && m2.exit_status == m.exit_status && m2.extra == m.extra);
  (void)m.to_listing_json();
  return 0;
}

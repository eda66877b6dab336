// fuzz/pg_record_fuzz.cc: catalog::PgBackupInfo::from_json after nlohmann::json::parse of
// arbitrary bytes (the "pg" block of a PostgreSQL manifest, which a compromised host writes).
//
// Properties: throws sr::Error (or json::exception from parse) or returns a record whose segment
// size is a usable divisor (no division by zero in WAL arithmetic), whose start LSN is not
// after its stop LSN and whose tablespace_map parses (decimal OIDs, non-empty paths);
// to_json/from_json round-trip; xid_in_progress_at_stop never crashes.
#include <cstddef>
#include <cstdint>

#include "catalog/pg_record.h"
#include "fuzz_util.h"

using namespace sr;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  json j;
  try {
    j = json::parse(as_chars(ByteSpan(data, size)));
  } catch (const json::exception&) {
    return 0;
  }
  catalog::PgBackupInfo info;
  try {
    info = catalog::PgBackupInfo::from_json(j, "fuzz");
    (void)catalog::pg_record_stanza(j);
  } catch (const Error&) {
    return 0;
  } catch (const json::exception& e) {
    std::fprintf(stderr, "from_json let a json::exception escape: %s\n", e.what());
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(info.segment_size > 0);
  // A record that parsed has a tablespace_map that parses, to decimal OIDs and non-empty paths.
  for (const auto& [oid, path] : catalog::parse_tablespace_map(info.tablespace_map))
    FUZZ_CHECK(!oid.empty() && oid.find_first_not_of("0123456789") == std::string::npos &&
               !path.empty());
  FUZZ_CHECK(!(info.stop_lsn < info.start_lsn));
  (void)info.xid_in_progress_at_stop(size ? data[0] : 0);
  catalog::PgBackupInfo again;
  try {
    again = catalog::PgBackupInfo::from_json(info.to_json(), "round trip");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "to_json output does not parse back: %s\n", e.what());
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(again.to_json() == info.to_json());
  return 0;
}

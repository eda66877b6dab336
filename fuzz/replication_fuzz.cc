// fuzz/replication_fuzz.cc: what `pg stream` reads from a PostgreSQL server (which may be
// compromised) on a replication connection. Byte 0 chooses:
//   even: the rest is one CopyData payload: pg::decode_copy_data (XLogData 'w', keepalive 'k');
//   odd:  the rest is an IDENTIFY_SYSTEM row, its four fields separated by NUL bytes (a fourth
//         field absent = NULL dbname): pg::system_info_from_fields.
// TIMELINE_HISTORY's result is the history file's text, handed on unparsed; its parser,
// catalog::TimelineHistory::parse, is fuzzed by timeline_history_fuzz.
//
// Properties: only sr::Error escapes, kCorrupt for CopyData and kIo for the row; a decoded
// message re-encodes to exactly the input (encode_xlog_data / encode_keepalive), so nothing is
// dropped or invented; XLogData never runs past the end of the 64-bit WAL space; an accepted
// row has a decimal system identifier, a timeline > 0 and an xlogpos that round-trips.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fuzz_util.h"
#include "pg/replication.h"

using namespace sr;

namespace {
void copy_data(ByteSpan in) {
  pg::Message m;
  try {
    m = pg::decode_copy_data(in);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == Errc::kCorrupt);
    return;
  }
  Bytes again;
  if (m.kind == pg::Message::Kind::kXLogData) {
    FUZZ_CHECK(m.data_start.value + m.data.size() >= m.data_start.value);
    again = pg::encode_xlog_data(m.data_start, m.wal_end, m.send_time, m.data);
  } else {
    FUZZ_CHECK(m.kind == pg::Message::Kind::kKeepalive);
    again = pg::encode_keepalive(m.wal_end, m.send_time, m.reply_requested);
  }
  FUZZ_CHECK(again == Bytes(in.begin(), in.end()));
}

void identify_row(ByteSpan in) {
  std::vector<std::string> f(1);
  for (uint8_t b : in) {
    if (b == 0 && f.size() < 4)
      f.emplace_back();
    else
      f.back().push_back(static_cast<char>(b));
  }
  f.resize(std::max<size_t>(f.size(), 3));
  std::optional<std::string> dbname;
  if (f.size() == 4) dbname = f[3];
  try {
    pg::SystemInfo s = pg::system_info_from_fields(f[0], f[1], f[2], dbname);
    FUZZ_CHECK(!s.system_identifier.empty() && s.system_identifier.size() <= 20);
    FUZZ_CHECK(s.system_identifier.find_first_not_of("0123456789") == std::string::npos);
    FUZZ_CHECK(s.timeline > 0);
    FUZZ_CHECK(pg::Lsn::parse(s.xlogpos.str()) == s.xlogpos);
    FUZZ_CHECK(s.dbname == dbname);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == Errc::kIo);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  ByteSpan rest(data + 1, size - 1);
  if (data[0] & 1)
    identify_row(rest);
  else
    copy_data(rest);
  return 0;
}

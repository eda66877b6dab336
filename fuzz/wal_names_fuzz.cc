// fuzz/wal_names_fuzz.cc: LSNs and WAL file names, which reach strongroom from a server (`pg
// stream`, backup start/stop positions), from archive_command / restore_command arguments and
// from repository listings (wal/<stanza>/…): pg::Lsn::parse, parse_segment_name (for every
// segment size PostgreSQL allows, 1 MiB to 1 GiB), is_history_file_name, is_archive_file_name,
// archive_file_name_of. Byte 0 picks the segment size; the rest is the text.
//
// Properties: only sr::Error (kUsage) escapes; an accepted LSN prints as "X/Y" and parses back
// to itself; an accepted segment name prints back as itself (upper case), has a timeline > 0
// and its segment number maps back; every segment, history, .partial and .backup name is an
// archive file name, and archive_file_name_of accepts exactly the paths whose file name is one.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include "base/lsn.h"
#include "fuzz_util.h"

using namespace sr;

namespace {
std::string upper(std::string s) {
  for (char& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

void lsn(const std::string& text) {
  try {
    pg::Lsn l = pg::Lsn::parse(text);
    std::string s = l.str();
    FUZZ_CHECK(s.find('/') != std::string::npos);
    FUZZ_CHECK(pg::Lsn::parse(s) == l);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == Errc::kUsage);
  }
}

void names(const std::string& text, uint64_t segment_size) {
  auto seg = pg::parse_segment_name(text, segment_size);
  if (seg) {
    FUZZ_CHECK(seg->timeline > 0);
    FUZZ_CHECK(seg->str(segment_size) == upper(text));
    FUZZ_CHECK(pg::parse_segment_name(seg->str(segment_size), segment_size) == seg);
  }
  bool archive = pg::is_archive_file_name(text);
  if (pg::is_segment_file_name(text) || pg::is_history_file_name(text)) FUZZ_CHECK(archive);
  if (pg::is_segment_file_name(text)) {
    FUZZ_CHECK(pg::is_archive_file_name(text + ".partial"));
    FUZZ_CHECK(pg::is_archive_file_name(text + ".00000028.backup"));
  }
  const std::string base = text.substr(text.rfind('/') + 1);  // what %p's file name is
  try {
    std::string name = pg::archive_file_name_of("/pg_wal/" + text);
    FUZZ_CHECK(name == base && pg::is_archive_file_name(name));
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == Errc::kUsage);
    FUZZ_CHECK(!pg::is_archive_file_name(base));
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const uint64_t segment_size = (1ull << 20) << (data[0] % 11);  // 1 MiB .. 1 GiB
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  lsn(text);
  names(text, segment_size);
  return 0;
}

#include "base/lsn.h"

#include <cstdio>

#include "base/error.h"

namespace sr::pg {

namespace {
bool all_hex(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789ABCDEFabcdef") == std::string::npos;
}
}  // namespace

std::string Lsn::str() const {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%X/%X", static_cast<unsigned>(value >> 32),
                static_cast<unsigned>(value & 0xffffffffu));
  return buf;
}

Lsn Lsn::parse(const std::string& text) {
  auto slash = text.find('/');
  if (slash == std::string::npos || slash > 8 || text.size() - slash - 1 > 8 ||
      !all_hex(text.substr(0, slash)) || !all_hex(text.substr(slash + 1)))
    throw Error(Errc::kUsage, "invalid LSN '" + text + "' (expected e.g. 16/B374D848)");
  uint64_t hi = std::stoull(text.substr(0, slash), nullptr, 16);
  uint64_t lo = std::stoull(text.substr(slash + 1), nullptr, 16);
  return Lsn{hi << 32 | lo};
}

std::string SegmentName::str(uint64_t segment_size) const {
  uint64_t per_log = 0x100000000ull / segment_size;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%08X%08X%08X", timeline, static_cast<unsigned>(segno / per_log),
                static_cast<unsigned>(segno % per_log));
  return buf;
}

std::optional<SegmentName> parse_segment_name(const std::string& name, uint64_t segment_size) {
  if (name.size() != 24 || !all_hex(name)) return std::nullopt;
  uint64_t per_log = 0x100000000ull / segment_size;
  SegmentName s;
  s.timeline = static_cast<TimelineId>(std::stoul(name.substr(0, 8), nullptr, 16));
  uint64_t log = std::stoull(name.substr(8, 8), nullptr, 16);
  uint64_t seg = std::stoull(name.substr(16, 8), nullptr, 16);
  if (seg >= per_log || s.timeline == 0) return std::nullopt;
  s.segno = log * per_log + seg;
  return s;
}

bool is_history_file_name(const std::string& name) {
  return name.size() == 16 && all_hex(name.substr(0, 8)) && name.substr(8) == ".history";
}

bool is_segment_file_name(const std::string& name) { return parse_segment_name(name).has_value(); }

bool is_archive_file_name(const std::string& name) {
  if (is_segment_file_name(name) || is_history_file_name(name)) return true;
  if (name.size() < 24 || !is_segment_file_name(name.substr(0, 24))) return false;
  std::string rest = name.substr(24);
  if (rest == ".partial") return true;
  return rest.size() == 16 && rest[0] == '.' && all_hex(rest.substr(1, 8)) &&
         rest.substr(9) == ".backup";
}

uint64_t segment_of(Lsn lsn, uint64_t segment_size) { return lsn.value / segment_size; }

std::string archive_file_name_of(const std::string& path) {
  auto pos = path.rfind('/');
  std::string name = pos == std::string::npos ? path : path.substr(pos + 1);
  if (!is_archive_file_name(name))
    throw Error(Errc::kUsage, "'" + name + "' is not a file PostgreSQL archives");
  return name;
}

}  // namespace sr::pg

// base/lsn.h: PostgreSQL log sequence numbers and WAL segment names.
//
// In base because both pg/ (the server's formats) and repo/ (WAL object names) need them; the
// namespace stays sr::pg.
//
// An Lsn is a byte position in the WAL stream, written "X/Y" (high and low 32 bits in hex). A WAL
// segment name is 24 hex digits: timeline, then the segment number split into "log" (high) and
// "seg" (low) parts as PostgreSQL does for the segment size in use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace sr::pg {

struct Lsn {
  uint64_t value = 0;
  auto operator<=>(const Lsn&) const = default;
  std::string str() const;
  static Lsn parse(const std::string& text);  // throws kUsage on bad input
};

using TimelineId = uint32_t;

constexpr uint64_t kDefaultSegmentSize = 16ull << 20;
// A size PostgreSQL allows for WAL segments: a power of two from 1 MiB to 1 GiB.
constexpr bool is_wal_segment_size(uint64_t n) {
  return n >= (1u << 20) && n <= (1u << 30) && (n & (n - 1)) == 0;
}

struct SegmentName {
  TimelineId timeline = 1;
  uint64_t segno = 0;
  std::string str(uint64_t segment_size = kDefaultSegmentSize) const;
  auto operator<=>(const SegmentName&) const = default;
};

// Parses a 24-hex-digit segment file name; nullopt when `name` is not one.
std::optional<SegmentName> parse_segment_name(const std::string& name,
                                              uint64_t segment_size = kDefaultSegmentSize);
bool is_history_file_name(const std::string& name);  // "00000002.history"
bool is_segment_file_name(const std::string& name);
// Any file PostgreSQL archives: a segment, "<segment>.partial", "<segment>.<8 hex>.backup"
// (backup history), or a timeline history file.
bool is_archive_file_name(const std::string& name);
// The file name of `path` (what archive_command's %p names), checked to be one PostgreSQL
// archives; throws kUsage otherwise.
std::string archive_file_name_of(const std::string& path);
uint64_t segment_of(Lsn lsn, uint64_t segment_size = kDefaultSegmentSize);

}  // namespace sr::pg

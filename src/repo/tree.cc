#include "repo/tree.h"

#include <cstring>

namespace sr::repo {

bool valid_relative_path(std::string_view path) {
  if (path.empty() || path.size() > 65535) return false;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view comp = path.substr(start, end - start);
    if (comp.empty() || comp == "." || comp == ".." || comp.find('\0') != std::string_view::npos)
      return false;
    start = end + 1;
  }
  return true;
}

bool path_less(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char ca = static_cast<unsigned char>(a[i]), cb = static_cast<unsigned char>(b[i]);
    if (ca == cb) continue;
    if (ca == '/') return true;  // the separator sorts before every name byte
    if (cb == '/') return false;
    return ca < cb;
  }
  return a.size() < b.size();
}

void encode_entry(const Entry& e, ByteWriter& w) {
  w.u8(static_cast<uint8_t>(e.kind));
  w.str(e.path);
  w.varint(e.mode);
  w.varint(e.uid);
  w.varint(e.gid);
  w.str(e.user);
  w.str(e.group);
  w.i64(e.mtime_ns);
  w.i64(e.ctime_ns);
  w.varint(e.inode);
  w.varint(e.device);
  w.varint(e.size);
  switch (e.kind) {
    case EntryKind::kFile:
      w.varint(e.chunks.size());
      for (const auto& c : e.chunks) {
        w.u8(c.hole ? 1 : 0);
        if (!c.hole) w.raw(c.id);
        w.varint(c.raw_length);
        if (!c.hole) w.varint(c.stored_length);
      }
      break;
    case EntryKind::kSymlink:
    case EntryKind::kHardlink:
      w.str(e.link_target);
      break;
    case EntryKind::kCharDev:
    case EntryKind::kBlockDev:
      w.varint(e.rdev);
      break;
    default:
      break;
  }
}

Entry decode_entry(ByteSpan record, const std::string& what) {
  ByteReader r(record, what);
  Entry e;
  uint8_t kind = r.u8();
  if (kind < 1 || kind > 7) r.fail("unknown entry kind " + std::to_string(kind));
  e.kind = static_cast<EntryKind>(kind);
  e.path = r.str();
  if (!valid_relative_path(e.path)) r.fail("invalid path in tree");
  uint64_t mode = r.varint(), uid = r.varint(), gid = r.varint();
  if (mode > 07777 || uid > UINT32_MAX || gid > UINT32_MAX) r.fail("invalid mode or owner");
  e.mode = static_cast<uint32_t>(mode);
  e.uid = static_cast<uint32_t>(uid);
  e.gid = static_cast<uint32_t>(gid);
  e.user = r.str();
  e.group = r.str();
  e.mtime_ns = r.i64();
  e.ctime_ns = r.i64();
  e.inode = r.varint();
  e.device = r.varint();
  e.size = r.varint();
  switch (e.kind) {
    case EntryKind::kFile: {
      uint64_t n = r.varint();
      if (n > r.remaining()) r.fail("too many chunks");
      e.chunks.resize(static_cast<size_t>(n));
      uint64_t total = 0;
      for (auto& c : e.chunks) {
        uint8_t hole = r.u8();
        if (hole > 1) r.fail("bad chunk reference");
        c.hole = hole == 1;
        if (!c.hole) std::memcpy(c.id.data(), r.raw(32).data(), 32);
        uint64_t raw = r.varint();
        if (raw > UINT32_MAX) r.fail("chunk too large");
        c.raw_length = static_cast<uint32_t>(raw);
        if (!c.hole) {
          uint64_t stored = r.varint();
          if (stored > UINT32_MAX) r.fail("chunk too large");
          c.stored_length = static_cast<uint32_t>(stored);
        }
        total += c.raw_length;
      }
      if (total != e.size) r.fail("chunk lengths do not add up to the file size");
      break;
    }
    case EntryKind::kSymlink:
      e.link_target = r.str();
      if (e.link_target.empty() || e.link_target.find('\0') != std::string::npos)
        r.fail("invalid symlink target");
      break;
    case EntryKind::kHardlink:
      e.link_target = r.str();
      if (!valid_relative_path(e.link_target)) r.fail("invalid hardlink target");
      break;
    case EntryKind::kCharDev:
    case EntryKind::kBlockDev:
      e.rdev = r.varint();
      break;
    default:
      break;
  }
  if (!r.done()) r.fail("trailing bytes in entry");
  return e;
}

}  // namespace sr::repo

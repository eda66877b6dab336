#include "repo/tree.h"

#include <cstring>

#include "codec/compress.h"

namespace sr::repo {

Bytes encode_delta(uint32_t page_size, const std::vector<uint16_t>& pages, ByteSpan piece) {
  ByteWriter w;
  w.u32(page_size);
  w.u32(static_cast<uint32_t>(pages.size()));
  for (uint16_t p : pages) {
    w.u8(static_cast<uint8_t>(p));
    w.u8(static_cast<uint8_t>(p >> 8));
  }
  for (uint16_t p : pages) {
    size_t off = size_t{p} * page_size;
    size_t len = std::min<size_t>(page_size, piece.size() - off);
    w.raw(piece.subspan(off, len));
  }
  return w.take();
}

namespace {
// zstd level for prefixed pages: they are few (a piece is encoded this way only when few pages
// changed), so a level that finds more matches in the base page costs nothing noticeable.
constexpr int kPrefixedLevel = 3;
constexpr uint32_t kPrefixedMark = 0;  // form 1 starts with the page size, never 0
}  // namespace

Bytes encode_prefixed_delta(uint32_t page_size, const std::vector<uint16_t>& pages, ByteSpan piece,
                            ByteSpan base) {
  if (base.size() != piece.size())
    throw Error(Errc::kInternal, "encode_prefixed_delta: base and piece differ in length");
  ByteWriter w;
  w.u32(kPrefixedMark);
  w.u32(page_size);
  w.u32(static_cast<uint32_t>(pages.size()));
  for (uint16_t p : pages) {
    w.u8(static_cast<uint8_t>(p));
    w.u8(static_cast<uint8_t>(p >> 8));
  }
  Bytes frame;
  for (uint16_t p : pages) {
    size_t off = size_t{p} * page_size;
    size_t len = std::min<size_t>(page_size, piece.size() - off);
    frame.clear();
    codec::compress_with_prefix(piece.subspan(off, len), base.subspan(off, len), kPrefixedLevel,
                                frame);
    w.bytes(frame);
  }
  return w.take();
}

Delta decode_delta(ByteSpan plaintext, uint32_t piece_length, const std::string& what) {
  ByteReader r(plaintext, what);
  Delta d;
  d.page_size = r.u32();
  const bool prefixed = d.page_size == kPrefixedMark;
  if (prefixed) d.page_size = r.u32();
  if (d.page_size == 0 || d.page_size > (1u << 20)) r.fail("bad delta page size");
  uint32_t n = r.u32();
  if (n > 65536 || n > r.remaining() / 2) r.fail("bad delta page count");
  d.pages.resize(n);
  size_t expected = 0;
  for (uint32_t i = 0; i < n; ++i) {
    uint16_t p = static_cast<uint16_t>(r.u8() | r.u8() << 8);
    uint64_t off = uint64_t{p} * d.page_size;
    if (off >= piece_length || (i > 0 && p <= d.pages[i - 1])) r.fail("bad delta page number");
    d.pages[i] = p;
    expected += static_cast<size_t>(std::min<uint64_t>(d.page_size, piece_length - off));
  }
  if (prefixed) {
    d.frames.reserve(n);
    for (uint32_t i = 0; i < n; ++i) {
      uint64_t len = r.varint();
      if (len > r.remaining()) r.fail("bad delta frame length");
      d.frames.push_back(r.raw(static_cast<size_t>(len)));
    }
  } else {
    d.data = r.raw(expected);
  }
  if (!r.done()) r.fail("trailing bytes in delta");
  return d;
}

void apply_delta(const Delta& d, std::span<uint8_t> piece, const std::string& what) {
  Bytes page;
  size_t at = 0;
  for (size_t i = 0; i < d.pages.size(); ++i) {
    size_t off = size_t{d.pages[i]} * d.page_size;
    if (off >= piece.size()) throw Error(Errc::kCorrupt, what + ": page beyond the piece");
    size_t len = std::min<size_t>(d.page_size, piece.size() - off);
    if (d.frames.empty()) {
      if (at + len > d.data.size()) throw Error(Errc::kCorrupt, what + ": too short");
      std::memcpy(piece.data() + off, d.data.data() + at, len);
      at += len;
    } else {
      page.resize(len);
      codec::decompress_with_prefix(d.frames[i], piece.subspan(off, len), page, what.c_str());
      std::memcpy(piece.data() + off, page.data(), len);
    }
  }
}

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

void copy_page_map(const Entry& from, Entry& to) {
  to.page_size = from.page_size;
  to.page_hashes = from.page_hashes;
  to.page_map_blob = from.page_map_blob;
  to.page_count = from.page_count;
  to.page_map_base = from.page_map_base;
  to.page_map_delta = from.page_map_delta;
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
        w.u8(c.hole ? 1 : c.has_delta ? 2 : 0);
        if (!c.hole) w.raw(c.id);
        w.varint(c.raw_length);
        if (!c.hole) w.varint(c.stored_length);
        if (c.has_delta) {
          w.raw(c.delta_id);
          w.varint(c.delta_raw_length);
          w.varint(c.delta_stored_length);
          w.varint(c.delta_pages.size());
          for (uint16_t p : c.delta_pages) w.varint(p);
        }
      }
      w.varint(e.page_size);
      if (e.page_size) {
        w.u8(e.page_map_blob ? 1 : 0);
        if (!e.page_map_blob) {
          w.varint(e.page_hashes.size());
          for (uint64_t h : e.page_hashes) w.u64(h);
        } else {
          w.varint(e.page_count);
          w.raw(e.page_map_base);
          w.varint(e.page_map_delta.size());
          uint32_t prev = 0;
          for (auto [page, hash] : e.page_map_delta) {
            w.varint(page - prev);  // ascending: gaps
            w.u64(hash);
            prev = page;
          }
        }
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

namespace {

ChunkRef decode_chunk_ref(ByteReader& r) {
  ChunkRef c;
  uint8_t kind = r.u8();
  if (kind > 2) r.fail("bad chunk reference");
  c.hole = kind == 1;
  c.has_delta = kind == 2;
  if (!c.hole) std::memcpy(c.id.data(), r.raw(32).data(), 32);
  uint64_t raw = r.varint();
  if (raw > UINT32_MAX) r.fail("chunk too large");
  c.raw_length = static_cast<uint32_t>(raw);
  if (!c.hole) {
    uint64_t stored = r.varint();
    if (stored > UINT32_MAX) r.fail("chunk too large");
    c.stored_length = static_cast<uint32_t>(stored);
  }
  if (c.has_delta) {
    std::memcpy(c.delta_id.data(), r.raw(32).data(), 32);
    uint64_t draw = r.varint(), dstored = r.varint(), np = r.varint();
    if (draw > UINT32_MAX || dstored > UINT32_MAX || np > 65536 || np > r.remaining())
      r.fail("bad delta reference");
    c.delta_raw_length = static_cast<uint32_t>(draw);
    c.delta_stored_length = static_cast<uint32_t>(dstored);
    c.delta_pages.resize(static_cast<size_t>(np));
    for (auto& p : c.delta_pages) {
      uint64_t v = r.varint();
      if (v > UINT16_MAX) r.fail("bad delta page");
      p = static_cast<uint16_t>(v);
    }
  }
  return c;
}

// The block map of a file read page by page: inline hashes (form 0) or a blob plus changes (1).
void decode_block_map(ByteReader& r, Entry& e) {
  uint8_t form = r.u8();
  if (form > 1) r.fail("unknown block map form");
  if (form == 0) {
    uint64_t n = r.varint();
    if (n > r.remaining() / 8) r.fail("bad block map");
    e.page_hashes.resize(static_cast<size_t>(n));
    for (auto& h : e.page_hashes) h = r.u64();
    return;
  }
  e.page_map_blob = true;
  e.page_count = r.varint();
  if (e.page_count > UINT32_MAX) r.fail("bad block map page count");
  std::memcpy(e.page_map_base.data(), r.raw(32).data(), 32);
  uint64_t n = r.varint();
  if (n > e.page_count || n > r.remaining() / 9) r.fail("bad block map delta");
  e.page_map_delta.reserve(static_cast<size_t>(n));
  uint64_t page = 0;
  for (uint64_t i = 0; i < n; ++i) {
    uint64_t gap = r.varint();
    if (i > 0 && gap == 0) r.fail("block map delta pages not ascending");
    // page < page_count here; compare before adding, so a huge gap cannot wrap around.
    if (gap >= e.page_count - page) r.fail("block map delta page out of range");
    page += gap;
    e.page_map_delta.emplace_back(static_cast<uint32_t>(page), r.u64());
  }
}

void decode_file_body(ByteReader& r, Entry& e) {
  uint64_t n = r.varint();
  if (n > r.remaining()) r.fail("too many chunks");
  e.chunks.reserve(static_cast<size_t>(n));
  uint64_t total = 0;
  for (uint64_t i = 0; i < n; ++i) {
    e.chunks.push_back(decode_chunk_ref(r));
    total += e.chunks.back().raw_length;
  }
  if (total != e.size) r.fail("chunk lengths do not add up to the file size");
  uint64_t page_size = r.varint();
  if (page_size > (1u << 20)) r.fail("bad page size");
  e.page_size = static_cast<uint32_t>(page_size);
  if (e.page_size) decode_block_map(r, e);
}

}  // namespace

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
    case EntryKind::kFile:
      decode_file_body(r, e);
      break;
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

// Writing restored file contents: see ops/restore_parts.h.
#include <fcntl.h>
#include <linux/falloc.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include "base/fs.h"
#include "ops/block_file.h"
#include "ops/restore_parts.h"

namespace sr::ops::restore_parts {

using repo::Entry;

namespace {
// Reads [offset, offset + len) of an existing file; a short file reads as a shorter buffer.
Bytes read_existing(int fd, uint64_t offset, size_t len, const std::string& path) {
  Bytes b(len);
  size_t got = 0;
  while (got < len) {
    ssize_t n = ::pread(fd, b.data() + got, len - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw_errno("cannot read " + path + " in the target");
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  b.resize(got);
  return b;
}

}  // namespace

std::vector<std::pair<size_t, size_t>> differing(OpenFile& f, const repo::ChunkRef& c,
                                                 uint64_t offset, repo::Repository& repo) {
  Bytes have = read_existing(f.fd.get(), offset, c.raw_length, f.entry.path);
  if (c.hole) {
    bool zero = have.size() == c.raw_length &&
                std::all_of(have.begin(), have.end(), [](uint8_t b) { return b == 0; });
    if (zero) return {};
    return {{0, c.raw_length}};
  }
  const uint32_t ps = f.entry.page_size;
  if (ps && !f.page_map.empty()) {
    std::vector<std::pair<size_t, size_t>> out;
    const size_t first_page = static_cast<size_t>(offset / ps);
    for (size_t off = 0; off < c.raw_length; off += ps) {
      size_t len = std::min<size_t>(ps, c.raw_length - off);
      size_t page = first_page + off / ps;
      bool same = off + len <= have.size() && page < f.page_map.size() &&
                  page_hash(ByteSpan(have.data() + off, len), f.page_hash_seed) == f.page_map[page];
      if (same) continue;
      if (!out.empty() && out.back().second == off)
        out.back().second = off + len;
      else
        out.emplace_back(off, off + len);
    }
    return out;
  }
  if (have.size() == c.raw_length && !c.has_delta && repo.chunk_id(have) == c.id) return {};
  return {{0, c.raw_length}};
}

namespace {
// One chunk-sized buffer per thread, aligned for direct I/O and reused (no allocation and no
// zero-filling per chunk).
std::span<uint8_t> thread_buffer(size_t n) {
  struct Buffer {
    uint8_t* p = nullptr;
    size_t cap = 0;
    ~Buffer() { std::free(p); }
  };
  thread_local Buffer b;
  if (b.cap < n) {
    std::free(b.p);
    b.cap = (n + kDirectIoAlign - 1) / kDirectIoAlign * kDirectIoAlign;
    b.p = static_cast<uint8_t*>(std::aligned_alloc(kDirectIoAlign, b.cap));
    if (!b.p) throw Error(Errc::kIo, "out of memory for a restore buffer");
  }
  return {b.p, n};
}

// Writes through the file's direct descriptor when the range is aligned (large pieces of new
// files: no copy into the page cache, which on virtual disks costs more than the disk write),
// else through the buffered one.
void write_at(OpenFile& f, std::span<const uint8_t> data, uint64_t offset) {
  size_t done = 0;
  if (f.direct && f.direct_ok) {
    done = pwrite_direct(f.direct.get(), data, offset, f.entry.path);
    if (done == 0 && data.size() >= kDirectIoAlign && direct_io_aligned(data, offset))
      f.direct_ok = false;  // this file system refuses: buffered from now on
  }
  if (done < data.size()) pwrite_all(f.fd.get(), data.subspan(done), offset + done, f.entry.path);
  // Start writeback of what was just written (asynchronous; blocks only while the device's
  // queue is full, which paces the restore to the disk): dirty memory stays small, and the final
  // syncfs waits for little. Advisory: a file system without it is synced at the end anyway.
  if (f.early_writeback)
    ::sync_file_range(f.fd.get(), static_cast<off_t>(offset), static_cast<off_t>(data.size()),
                      SYNC_FILE_RANGE_WRITE);
}

// Chunks that lie back to back in one pack are fetched with one ranged read of up to kMaxSpan
// (a file's chunks are usually stored in order): object stores charge per request, and a
// request costs their servers more than the bytes.
constexpr uint64_t kMaxSpan = 16ull << 20;

class SpanReader {
 public:
  explicit SpanReader(repo::Repository& repo) : repo_(repo) {}
  // Locations of chunks in the order they will be read (nullopt: a hole); returns the index of
  // the first one added.
  size_t add(const Entry& e, size_t first, size_t last) {
    size_t base = locs_.size();
    for (size_t i = first; i < last; ++i) {
      const auto& c = e.chunks[i];
      if (c.hole) {
        locs_.emplace_back();
        continue;
      }
      locs_.push_back(repo_.lookup(c.id));
      if (!locs_.back())
        throw Error(Errc::kCorrupt, "chunk " + to_hex(c.id) + " of " + e.path +
                                        " is missing from the repository (run verify)");
    }
    return base;
  }
  const repo::ChunkLocation& location(size_t i) const { return *locs_[i]; }
  // The sealed bytes of chunk i.
  ByteSpan sealed(size_t i) {
    const repo::ChunkLocation& loc = *locs_[i];
    if (loc.pack != pack_ || loc.offset < start_ ||
        loc.offset + loc.length > start_ + data_.size()) {
      uint64_t end = loc.offset + loc.length;
      for (size_t j = i + 1; j < locs_.size(); ++j) {
        if (!locs_[j]) continue;  // a hole
        const auto& n = *locs_[j];
        if (n.pack != loc.pack || n.offset != end || end + n.length - loc.offset > kMaxSpan) break;
        end = n.offset + n.length;
      }
      data_ = repo_.read_pack_range(loc.pack, loc.offset, end - loc.offset);
      pack_ = loc.pack;
      start_ = loc.offset;
    }
    return ByteSpan(data_).subspan(static_cast<size_t>(loc.offset - start_), loc.length);
  }

 private:
  repo::Repository& repo_;
  std::vector<std::optional<repo::ChunkLocation>> locs_;
  Bytes data_;
  std::string pack_;
  uint64_t start_ = 0;
};

// Writes chunks [first, last) of f (starting at `offset`); their locations are reader's
// [base, base + last - first).
void write_range(repo::Repository& repo, OpenFile& f, size_t first, size_t last, uint64_t offset,
                 const OpContext& ctx, SpanReader& reader, size_t base) {
  Counters* const counters = ctx.progress;
  for (size_t i = first; i < last; ++i) {
    ctx.check_cancelled("restore");
    const auto& c = f.entry.chunks[i];
    std::vector<std::pair<size_t, size_t>> ranges{{0, c.raw_length}};
    if (f.existing) {
      ranges = differing(f, c, offset, repo);
      size_t changed = 0;
      for (auto [a, b] : ranges) changed += b - a;
      *f.unchanged += c.raw_length - changed;
      if (ranges.empty()) {
        if (counters) counters->bytes += c.raw_length;
        offset += c.raw_length;
        continue;
      }
      if (c.hole) {
        // Make the range a hole again (or zeros where the file system cannot punch).
        if (::fallocate(f.fd.get(), FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                        static_cast<off_t>(offset), static_cast<off_t>(c.raw_length)) != 0) {
          Bytes zeros(c.raw_length, 0);
          pwrite_all(f.fd.get(), zeros, offset, f.entry.path);
        }
      }
    }
    if (!c.hole) {
      const auto* loc = &reader.location(base + i - first);
      if (loc->raw_length != c.raw_length)
        throw Error(Errc::kCorrupt,
                    "chunk " + to_hex(c.id) + " of " + f.entry.path + " has the wrong length");
      std::span<uint8_t> data = thread_buffer(c.raw_length);
      repo.open_blob_into(c.id, *loc, reader.sealed(base + i - first), data);
      if (c.has_delta) {  // patch the changed pages into the base before writing it
        auto dloc = repo.lookup(c.delta_id);
        if (!dloc)
          throw Error(Errc::kCorrupt, "delta chunk " + to_hex(c.delta_id) + " of " + f.entry.path +
                                          " is missing from the repository (run verify)");
        Bytes plain = repo.read_blob(c.delta_id, *dloc);
        const std::string what = "delta of " + f.entry.path;
        repo::apply_delta(repo::decode_delta(plain, c.raw_length, what), data, what);
      }
      for (auto [a, b] : ranges) write_at(f, data.subspan(a, b - a), offset + a);
      if (counters) counters->bytes += data.size();
    } else if (counters) {
      counters->bytes += c.raw_length;
    }
    offset += c.raw_length;
  }
}
}  // namespace

std::vector<TaskRange> plan_tasks(const std::vector<repo::ChunkRef>& chunks, uint64_t task_bytes) {
  std::vector<TaskRange> ranges;
  size_t first = 0;
  uint64_t offset = 0, start = 0, acc = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    acc += chunks[i].raw_length;
    offset += chunks[i].raw_length;
    if (acc >= task_bytes || i + 1 == chunks.size()) {
      ranges.push_back({first, i + 1, start});
      first = i + 1;
      start = offset;
      acc = 0;
    }
  }
  return ranges;
}

void write_file_range(repo::Repository& repo, OpenFile& f, const TaskRange& r,
                      const OpContext& ctx) {
  SpanReader reader(repo);
  size_t base = reader.add(f.entry, r.first, r.last);
  write_range(repo, f, r.first, r.last, r.offset, ctx, reader, base);
}

void write_small_files(repo::Repository& repo, const std::vector<std::shared_ptr<OpenFile>>& files,
                       const OpContext& ctx) {
  SpanReader reader(repo);
  std::vector<size_t> bases;
  for (const auto& f : files) bases.push_back(reader.add(f->entry, 0, f->entry.chunks.size()));
  for (size_t k = 0; k < files.size(); ++k) {
    OpenFile& f = *files[k];
    write_range(repo, f, 0, f.entry.chunks.size(), 0, ctx, reader, bases[k]);
    set_fd_metadata(f.fd.get(), f.entry);
  }
}

}  // namespace sr::ops::restore_parts

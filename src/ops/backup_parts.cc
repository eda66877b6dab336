// The pieces of a files backup: see ops/backup_parts.h.
#include "ops/backup_parts.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/fs.h"

namespace sr::ops::backup_parts {

using repo::ChunkRef;
using repo::Entry;
using repo::EntryKind;

namespace {
int64_t ts_ns(const struct timespec& t) { return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec; }

[[noreturn]] void unreadable(const std::string& what) {
  throw Error(Errc::kSourceUnreadable, what + ": " + std::strerror(errno));
}

Fd open_source(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) unreadable("cannot open " + path);
  return Fd(fd);
}

// Appends holes of `n` bytes, in pieces that fit a chunk reference.
void add_hole(std::vector<ChunkRef>& chunks, uint64_t n) {
  while (n > 0) {
    uint32_t part = static_cast<uint32_t>(std::min<uint64_t>(n, 1u << 30));
    ChunkRef hole;
    hole.hole = true;
    hole.raw_length = part;
    chunks.push_back(hole);
    n -= part;
  }
}

// A sparse file: data regions through the pipeline, holes as hole references. Returns the size
// read (less than `size` if the file shrank meanwhile).
uint64_t read_sparse(ChunkPipeline& pipeline, int fd, const std::string& abs, uint64_t size,
                     std::vector<ChunkRef>& chunks) {
  uint64_t pos = 0, end = size;
  while (pos < end) {
    off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
    if (data < 0) {
      if (errno != ENXIO) unreadable("cannot seek " + abs);
      // No data after pos: a trailing hole, up to the file's current size (it may have shrunk).
      struct stat st;
      if (::fstat(fd, &st) != 0) unreadable("cannot stat " + abs);
      end = std::min<uint64_t>(end, static_cast<uint64_t>(st.st_size));
      data = static_cast<off_t>(end);
    }
    uint64_t data_start = std::min<uint64_t>(static_cast<uint64_t>(data), end);
    if (data_start > pos) add_hole(chunks, data_start - pos);
    pos = std::max(pos, data_start);
    if (pos >= end) break;
    off_t hole_at = ::lseek(fd, static_cast<off_t>(pos), SEEK_HOLE);
    if (hole_at < 0) unreadable("cannot seek " + abs);
    uint64_t data_end = std::min<uint64_t>(static_cast<uint64_t>(hole_at), end);
    if (::lseek(fd, static_cast<off_t>(pos), SEEK_SET) < 0) unreadable("cannot seek " + abs);
    uint64_t want = data_end - pos;
    uint64_t n = pipeline.store_stream(fd, want, chunks, abs);
    pos += n;
    if (n < want) break;  // the file shrank while being read
  }
  return pos;
}
}  // namespace

const std::string& NameCache::user(uid_t uid) {
  auto it = users_.find(uid);
  if (it != users_.end()) return it->second;
  struct passwd* pw = ::getpwuid(uid);
  return users_[uid] = pw ? pw->pw_name : "";
}

const std::string& NameCache::group(gid_t gid) {
  auto it = groups_.find(gid);
  if (it != groups_.end()) return it->second;
  struct group* gr = ::getgrgid(gid);
  return groups_[gid] = gr ? gr->gr_name : "";
}

Entry entry_from_stat(const source::WalkItem& item, NameCache& names) {
  Entry e;
  e.path = item.rel;
  const struct stat& st = item.st;
  e.mode = st.st_mode & 07777;
  e.uid = st.st_uid;
  e.gid = st.st_gid;
  e.user = names.user(st.st_uid);
  e.group = names.group(st.st_gid);
  e.mtime_ns = ts_ns(st.st_mtim);
  e.ctime_ns = ts_ns(st.st_ctim);
  e.inode = st.st_ino;
  e.device = st.st_dev;
  if (S_ISDIR(st.st_mode))
    e.kind = EntryKind::kDir;
  else if (S_ISREG(st.st_mode))
    e.kind = EntryKind::kFile, e.size = static_cast<uint64_t>(st.st_size);
  else if (S_ISLNK(st.st_mode))
    e.kind = EntryKind::kSymlink;
  else if (S_ISFIFO(st.st_mode))
    e.kind = EntryKind::kFifo;
  else if (S_ISCHR(st.st_mode))
    e.kind = EntryKind::kCharDev, e.rdev = st.st_rdev;
  else if (S_ISBLK(st.st_mode))
    e.kind = EntryKind::kBlockDev, e.rdev = st.st_rdev;
  else
    throw Error(Errc::kUnsupported, "socket");
  return e;
}

void read_regular_file(ChunkPipeline& pipeline, const std::string& abs, Entry& e) {
  Fd guard = open_source(abs);
  int fd = guard.get();
  struct stat st;
  if (::fstat(fd, &st) != 0) unreadable("cannot stat " + abs);
  if (!S_ISREG(st.st_mode))
    throw Error(Errc::kSourceUnreadable, abs + " is no longer a regular file");
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  e.chunks.clear();
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  bool sparse = static_cast<uint64_t>(st.st_blocks) * 512 < size;
  if (!sparse)
    e.size = pipeline.store_stream(fd, std::nullopt, e.chunks, abs, size);
  else
    e.size = read_sparse(pipeline, fd, abs, size, e.chunks);
}

uint32_t segment_block_base(const std::string& path, uint32_t page_size) {
  auto slash = path.rfind('/');
  auto dot = path.find('.', slash == std::string::npos ? 0 : slash);
  if (dot == std::string::npos) return 0;
  uint32_t seg = static_cast<uint32_t>(std::strtoul(path.c_str() + dot + 1, nullptr, 10));
  return seg * static_cast<uint32_t>((1ull << 30) / page_size);
}

void read_block(repo::Repository& repo, WorkerPool& pool, const OpContext& ctx,
                const std::string& abs, const Entry* parent, const PageOptions& pages, Entry& e,
                const std::function<void(const std::string&)>& warn) {
  Fd fd = open_source(abs);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  try {
    read_block_file(repo, pool, ctx, fd.get(), abs, segment_block_base(abs, pages.page_size),
                    parent, pages, e, warn);
  } catch (const Error& err) {
    if (err.code() == Errc::kIo && std::string(err.what()).find("cannot read " + abs) == 0)
      throw Error(Errc::kSourceUnreadable, err.what());
    throw;
  }
}

std::optional<repo::Manifest> newest_matching(const std::vector<repo::Manifest>& all,
                                              const std::string& type, const std::string& host,
                                              const std::vector<std::string>& paths) {
  auto sorted = paths;
  std::sort(sorted.begin(), sorted.end());
  std::optional<repo::Manifest> found;
  for (const auto& cand : all) {
    if (cand.type != type || cand.host != host) continue;
    auto cp = cand.paths;
    std::sort(cp.begin(), cp.end());
    if (cp == sorted) found = cand;
  }
  return found;
}

bool unchanged_since_parent(const Entry& p, const Entry& e, int64_t parent_time_ns) {
  return p.path == e.path && p.kind == EntryKind::kFile && e.kind == EntryKind::kFile &&
         p.size == e.size && p.mtime_ns == e.mtime_ns && p.ctime_ns == e.ctime_ns &&
         p.inode == e.inode && e.ctime_ns < parent_time_ns - kTimestampMarginNs;
}

bool chunks_present(repo::Repository& repo, const Entry& p) {
  return std::all_of(p.chunks.begin(), p.chunks.end(),
                     [&](const ChunkRef& c) {
                       return c.hole ||
                              (repo.lookup_present(c.id).has_value() &&
                               (!c.has_delta || repo.lookup_present(c.delta_id).has_value()));
                     }) &&
         (!p.page_map_blob || repo.lookup_present(p.page_map_base).has_value());
}

void Totals::add(const Entry& e) {
  if (e.kind == EntryKind::kDir) ++dirs;
  if (e.kind != EntryKind::kFile) return;
  ++files;
  size += e.size;
  for (const auto& c : e.chunks) {
    if (!c.hole && seen.insert(c.id)) stored += c.stored_length;
    if (c.has_delta && seen.insert(c.delta_id)) stored += c.delta_stored_length;
  }
}

}  // namespace sr::ops::backup_parts

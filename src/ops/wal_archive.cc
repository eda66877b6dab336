#include "ops/wal_archive.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include "base/fs.h"
#include "base/lsn.h"
#include "base/random.h"
#include "base/worker_pool.h"

namespace sr::ops {

std::string next_ready_segment(const std::string& path, uint64_t segment_size) {
  if (!pg::is_wal_segment_size(segment_size)) return "";
  auto seg = pg::parse_segment_name(basename_of(path), segment_size);
  if (!seg) return "";
  std::string dir = dirname_of(path);
  std::string next = pg::SegmentName{seg->timeline, seg->segno + 1}.str(segment_size);
  struct stat st;
  if (::stat((dir + "/archive_status/" + next + ".ready").c_str(), &st) != 0) return "";
  return dir + "/" + next;
}

std::optional<uint64_t> segment_system_identifier(ByteSpan segment) {
  // XLogLongPageHeaderData: magic u16, info u16, tli u32, pageaddr u64, rem_len u32, (pad) |
  // sysid u64 at offset 24 | seg_size u32 | blcksz u32. XLP_LONG_HEADER = 0x0002 in info.
  if (segment.size() < 40) return std::nullopt;
  uint16_t info = static_cast<uint16_t>(segment[2] | segment[3] << 8);
  if (!(info & 0x0002)) return std::nullopt;
  uint64_t id = 0;
  for (int i = 0; i < 8; ++i) id |= uint64_t(segment[24 + i]) << (8 * i);
  return id;
}

nlohmann::json WalPushResult::to_json() const {
  return {{"file", file}, {"bytes", bytes}, {"already_stored", already_stored}};
}

WalPushResult wal_push(repo::Repository& repo, const WalPushOptions& options,
                       const OpContext& ctx) {
  const std::string& stanza = options.stanza;
  const std::string& path = options.path;
  std::string name = pg::archive_file_name_of(path);
  MappedFile mapped(path, MappedFile::Load::kAhead);  // compressed while it is read
  ByteSpan content = mapped.span();
  // When archiving is behind, the next call is for the next segment, already complete and
  // marked .ready: it is read into the page cache while this one is compressed, sealed and
  // synced, so that call finds it in memory instead of waiting for the disk (only a .ready
  // segment: pg_wal also holds recycled files under future names).
  // MappedFile's kAhead asks for it window by window from a helper thread (one WILLNEED reads
  // at most the 8 MiB read-ahead window); advisory: if it cannot be had, the push goes on.
  std::optional<MappedFile> ahead;
  if (std::string next = next_ready_segment(path, content.size()); !next.empty()) {
    try {
      ahead.emplace(next, MappedFile::Load::kAhead);
    } catch (const std::exception&) {
    }
  }
  repo::WalStore store(repo, stanza);
  if (pg::is_segment_file_name(name)) {
    if (auto sysid = segment_system_identifier(content)) {
      auto known = store.identity();
      if (known && known->system_identifier != std::to_string(*sysid))
        throw Error(Errc::kUsage, "WAL segment " + name +
                                      " is from the cluster with system identifier " +
                                      std::to_string(*sysid) + ", but stanza '" + stanza +
                                      "' belongs to " + known->system_identifier);
      if (!known) store.check_identity({std::to_string(*sysid), 0, content.size()});
    }
  }
  ctx.check_cancelled("wal-push");
  WalPushResult r;
  r.file = path;
  r.bytes = content.size();
  r.already_stored =
      store.push(name, content, options.max_parts) == repo::WalStore::PushResult::kAlreadyStored;
  if (ctx.progress) {
    ctx.progress->bytes += r.bytes;
    ++ctx.progress->files;
  }
  return r;
}

bool take_prefetched(const std::string& dir, const std::string& name, const std::string& dest) {
  std::string p = dir + "/" + name;
  if (!pg::is_segment_file_name(name) || !path_exists(p)) return false;
  return ::rename(p.c_str(), dest.c_str()) == 0;
}

void prefetch(repo::Repository& repo, const std::string& stanza, const std::string& dir,
              const std::string& name, int count) {
  auto seg = pg::parse_segment_name(name);
  if (!seg || count <= 0) return;
  mkdirs(dir, 0700);
  Fd lock = open_or_throw(dir + "/prefetch.lock", O_RDWR | O_CREAT, 0600);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return;  // another prefetcher is at work
  // Drop what replay has passed.
  if (DIR* d = ::opendir(dir.c_str())) {
    std::vector<std::string> old;
    while (struct dirent* e = ::readdir(d))
      if (pg::is_segment_file_name(e->d_name) && std::string(e->d_name) < name)
        old.emplace_back(e->d_name);
    ::closedir(d);
    for (const auto& o : old) ::unlink((dir + "/" + o).c_str());
  }
  repo::WalStore store(repo, stanza);
  WorkerPool pool(2, 2);
  for (int i = 1; i <= count; ++i) {
    std::string next = pg::SegmentName{seg->timeline, seg->segno + static_cast<uint64_t>(i)}.str();
    if (path_exists(dir + "/" + next)) continue;
    pool.submit([&store, dir, next] {
      auto content = store.get(next);  // complete segments only: a partial one is still growing
      if (content) write_file_atomic(dir + "/" + next, *content);
    });
  }
  pool.wait();
}

bool wal_get(repo::Repository& repo, const std::string& stanza, const std::string& name,
             const std::string& dest) {
  repo::WalStore store(repo, stanza);
  auto identity = store.identity();
  // A segment still being streamed is served from its increments, zero-padded (RPO < 1 s).
  auto content = store.get_segment_or_partial(
      name, identity && identity->segment_size ? identity->segment_size : pg::kDefaultSegmentSize);
  if (!content) return false;
  std::string tmp = dest + ".strongroom-" + random_hex(6);
  {
    Fd fd = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
    write_all(fd.get(), *content, tmp);
    if (::fsync(fd.get()) != 0) throw_errno("cannot fsync " + tmp);
  }
  if (::rename(tmp.c_str(), dest.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_errno("cannot write " + dest, err);
  }
  return true;
}

}  // namespace sr::ops

#include "ops/backup.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "base/fs.h"
#include "base/time_util.h"
#include "repo/chunk_set.h"
#include "repo/lock.h"
#include "repo/tree_stream.h"
#include "source/command_source.h"
#include "source/file_walker.h"

namespace sr::ops {

using repo::ChunkRef;
using repo::Entry;
using repo::EntryKind;

namespace {
constexpr size_t kMaxPendingEntries = 4096;
constexpr int64_t kTimestampMarginNs = 1000000000;

int64_t ts_ns(const struct timespec& t) { return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec; }

class NameCache {
 public:
  const std::string& user(uid_t uid) {
    auto it = users_.find(uid);
    if (it != users_.end()) return it->second;
    struct passwd* pw = ::getpwuid(uid);
    return users_[uid] = pw ? pw->pw_name : "";
  }
  const std::string& group(gid_t gid) {
    auto it = groups_.find(gid);
    if (it != groups_.end()) return it->second;
    struct group* gr = ::getgrgid(gid);
    return groups_[gid] = gr ? gr->gr_name : "";
  }

 private:
  std::map<uid_t, std::string> users_;
  std::map<gid_t, std::string> groups_;
};

// One entry of the tree, possibly still being read by a file worker.
struct Slot {
  Entry entry;
  std::string abs;
  bool done = false;
  bool skip = false;
  bool reused = false;
  bool failed = false;          // the worker threw; its error is rethrown by WorkerPool::wait
  bool block = false;           // read page by page (ops/block_file.h)
  std::optional<Entry> parent;  // the parent's entry for a block file
};

[[noreturn]] void unreadable(const std::string& what) {
  throw Error(Errc::kSourceUnreadable, what + ": " + std::strerror(errno));
}

Fd open_source(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOATIME);
  if (fd < 0 && errno == EPERM) fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) unreadable("cannot open " + path);
  return Fd(fd);
}

// The first block number of a relation segment file: "16384.2" starts 2 GiB into the relation.
uint32_t segment_block_base(const std::string& path, uint32_t page_size) {
  auto slash = path.rfind('/');
  auto dot = path.find('.', slash == std::string::npos ? 0 : slash);
  if (dot == std::string::npos) return 0;
  uint32_t seg = static_cast<uint32_t>(std::strtoul(path.c_str() + dot + 1, nullptr, 10));
  return seg * static_cast<uint32_t>((1ull << 30) / page_size);
}

// Reads a block-structured file page by page against its parent entry.
void read_block(repo::Repository& repo, WorkerPool& pool, Counters* counters, Slot& slot,
                const PageOptions& pages, const std::function<void(const std::string&)>& warn) {
  Fd fd = open_source(slot.abs);
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  try {
    read_block_file(repo, pool, counters, fd.get(), slot.abs,
                    segment_block_base(slot.abs, pages.page_size),
                    slot.parent ? &*slot.parent : nullptr, pages, slot.entry, warn);
  } catch (const Error& e) {
    if (e.code() == Errc::kIo && std::string(e.what()).find("cannot read " + slot.abs) == 0)
      throw Error(Errc::kSourceUnreadable, e.what());
    throw;
  }
}

// Reads one regular file into chunks (sparse regions as holes). Errors reading the source are
// kSourceUnreadable (the file is skipped); anything else (the repository) aborts the backup.
void read_file(ChunkPipeline& pipeline, Slot& slot) {
  Fd guard = open_source(slot.abs);
  int fd = guard.get();
  struct stat st;
  if (::fstat(fd, &st) != 0) unreadable("cannot stat " + slot.abs);
  if (!S_ISREG(st.st_mode))
    throw Error(Errc::kSourceUnreadable, slot.abs + " is no longer a regular file");
  ::posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
  Entry& e = slot.entry;
  e.chunks.clear();
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  bool sparse = static_cast<uint64_t>(st.st_blocks) * 512 < size;
  if (!sparse) {
    e.size = pipeline.store_stream(fd, std::nullopt, e.chunks, slot.abs, size);
  } else {
    uint64_t pos = 0, end = size;
    while (pos < end) {
      off_t data = ::lseek(fd, static_cast<off_t>(pos), SEEK_DATA);
      if (data < 0) {
        if (errno != ENXIO) unreadable("cannot seek " + slot.abs);
        // No data after pos: a trailing hole, up to the file's current size (it may have shrunk).
        if (::fstat(fd, &st) != 0) unreadable("cannot stat " + slot.abs);
        end = std::min<uint64_t>(end, static_cast<uint64_t>(st.st_size));
        data = static_cast<off_t>(end);
      }
      uint64_t data_start = std::min<uint64_t>(static_cast<uint64_t>(data), end);
      while (data_start > pos) {  // a hole, in pieces that fit a chunk reference
        uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(data_start - pos, 1u << 30));
        ChunkRef hole;
        hole.hole = true;
        hole.raw_length = n;
        e.chunks.push_back(hole);
        pos += n;
      }
      if (pos >= end) break;
      off_t hole_at = ::lseek(fd, static_cast<off_t>(pos), SEEK_HOLE);
      if (hole_at < 0) unreadable("cannot seek " + slot.abs);
      uint64_t data_end = std::min<uint64_t>(static_cast<uint64_t>(hole_at), end);
      if (::lseek(fd, static_cast<off_t>(pos), SEEK_SET) < 0) unreadable("cannot seek " + slot.abs);
      uint64_t want = data_end - pos;
      uint64_t n = pipeline.store_stream(fd, want, e.chunks, slot.abs);
      pos += n;
      if (n < want) break;  // the file shrank while being read
    }
    e.size = pos;
  }
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

bool same_paths(const repo::Manifest& m, const std::vector<std::string>& paths) {
  auto a = m.paths, b = paths;
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  return a == b;
}

// Accumulates a backup's figures from the entries in tree order.
struct Totals {
  uint64_t size = 0, stored = 0, files = 0, dirs = 0;
  repo::ChunkSet seen;
  void add(const Entry& e) {
    if (e.kind == EntryKind::kDir) ++dirs;
    if (e.kind != EntryKind::kFile) return;
    ++files;
    size += e.size;
    for (const auto& c : e.chunks) {
      if (!c.hole && seen.insert(c.id)) stored += c.stored_length;
      if (c.has_delta && seen.insert(c.delta_id)) stored += c.delta_stored_length;
    }
  }
};
}  // namespace

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

std::string user_name() {
  if (struct passwd* pw = ::getpwuid(::geteuid())) return pw->pw_name;
  return std::to_string(::geteuid());
}

BackupResult backup_files(repo::Repository& repo, const FilesBackupOptions& options) {
  source::WalkPlan plan = source::plan_walk(options.paths);
  std::unique_ptr<repo::RepoLock> lock;
  if (options.take_lock) lock = repo::RepoLock::acquire(repo, "backup", false);
  repo.load_index();

  BackupResult result;
  repo::WriteStats stats;  // what this backup adds (outlives the pools below)
  PageOptions pages = options.pages;
  pages.stats = &stats;
  repo::Manifest& m = result.manifest;
  m.type = options.type;
  m.host = options.host.empty() ? host_name() : options.host;
  m.user = user_name();
  m.paths = plan.abs_paths;
  m.root = plan.root;
  m.tags = options.tags;
  m.time_ns = now_ns();
  m.source = options.source;
  if (m.source.empty())
    for (const auto& p : m.paths) m.source += (m.source.empty() ? "" : " ") + p;

  // The parent: given, or the newest backup of the same type and paths from the same host.
  std::optional<repo::Manifest> parent;
  if (options.parent) {
    if (!options.parent->id.empty()) parent = options.parent;
  } else {
    // A damaged manifest cannot be a parent (verify reports it); the backup goes on without it.
    for (auto& cand : repo.scan_manifests().readable)
      if (cand.type == m.type && cand.host == m.host && same_paths(cand, m.paths)) parent = cand;
  }
  std::optional<repo::TreeReader> parent_tree;
  std::optional<Entry> pcur;
  if (parent) {
    m.parent = parent->id;
    parent_tree.emplace(repo, *parent);
  }

  std::jthread scanner;
  if (options.counters && options.scan_totals) {
    scanner =
        std::jthread([&plan, c = options.counters, &filter = options.filter](std::stop_token st) {
          try {
            source::walk(
                plan,
                [&](const source::WalkItem& item) {
                  if (st.stop_requested()) throw Error(Errc::kCancelled, "stop");
                  if (S_ISREG(item.st.st_mode)) {
                    c->total_bytes += static_cast<uint64_t>(item.st.st_size);
                    ++c->total_files;
                  }
                },
                [](const std::string&, const std::string&) {}, filter);
            c->total_known = true;
          } catch (const Error&) {
          }
        });
  }

  repo::TreeWriter tree(repo, &stats);
  Totals totals;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<std::shared_ptr<Slot>> pending;
  std::map<std::pair<uint64_t, uint64_t>, std::string> hardlinks;
  NameCache names;
  std::set<std::string> skipped_files;  // unreadable files, so their hardlinks are skipped too
  // The pools come last: on an error their destructors wait for running tasks, which use the
  // state above, so that state must outlive them.
  const size_t threads = WorkerPool::default_threads();
  WorkerPool chunk_pool(threads, 2 * threads);
  ChunkPipeline pipeline(repo, chunk_pool, options.counters, &stats);
  WorkerPool file_pool(threads, 4 * threads);

  auto warn = [&](const std::string& msg) {
    std::lock_guard g(mu);
    ++result.warnings;
    if (options.warn) options.warn(msg);
  };

  // Moves to the parent's next entry. A parent whose tree cannot be read is dropped (with a
  // warning): this backup then reads every file, instead of failing like every backup after it.
  auto advance_parent = [&] {
    try {
      pcur = parent_tree->next();
    } catch (const Error& err) {
      if (err.code() != Errc::kCorrupt && err.code() != Errc::kNotFound) throw;
      warn("the previous backup " + parent->id + " cannot be read (" + err.what() +
           "); reading every file");
      parent_tree.reset();
      pcur.reset();
      m.parent.clear();
    }
  };
  if (parent_tree) advance_parent();
  // A parent's chunk list is reused only when every chunk is still indexed.
  auto chunks_present = [&](const Entry& p) {
    return std::all_of(p.chunks.begin(), p.chunks.end(),
                       [&](const ChunkRef& c) {
                         return c.hole || (repo.lookup(c.id).has_value() &&
                                           (!c.has_delta || repo.lookup(c.delta_id).has_value()));
                       }) &&
           (!p.page_map_blob || repo.lookup(p.page_map_base).has_value());
  };

  // Emits finished entries from the front, in walk order. With `all`, waits for every entry.
  auto drain = [&](size_t keep) {
    for (;;) {
      std::shared_ptr<Slot> front;
      {
        std::unique_lock g(mu);
        if (pending.size() <= keep) return;
        cv.wait(g, [&] { return pending.front()->done || file_pool.failed(); });
        if (!pending.front()->done) break;
        front = pending.front();
        pending.pop_front();
      }
      if (front->failed) break;
      if (front->skip) {
        if (front->entry.kind == EntryKind::kFile) skipped_files.insert(front->entry.path);
        continue;
      }
      if (front->entry.kind == EntryKind::kHardlink &&
          skipped_files.count(front->entry.link_target)) {
        warn("skipping hardlink " + front->abs + ": its first link could not be read");
        continue;
      }
      if (front->reused) ++result.reused_files;
      totals.add(front->entry);
      tree.add(front->entry);
    }
    file_pool.wait();  // a worker failed: rethrow its error
    throw Error(Errc::kInternal, "a file worker failed without an error");
  };

  source::walk(
      plan,
      [&](const source::WalkItem& item) {
        Entry e;
        try {
          e = entry_from_stat(item, names);
        } catch (const Error&) {
          return;  // sockets are not backed up
        }
        if (e.kind == EntryKind::kSymlink) {
          std::string target(static_cast<size_t>(item.st.st_size) + 1, '\0');
          ssize_t n = ::readlink(item.abs.c_str(), target.data(), target.size());
          if (n <= 0) {
            warn("cannot read symlink " + item.abs + ": " + std::strerror(errno));
            return;
          }
          target.resize(static_cast<size_t>(n));
          e.link_target = target;
        }
        auto slot = std::make_shared<Slot>();
        slot->abs = item.abs;
        bool read = false;
        if (e.kind == EntryKind::kFile) {
          if (item.st.st_nlink > 1) {
            auto key = std::make_pair(e.device, e.inode);
            if (auto it = hardlinks.find(key); it != hardlinks.end()) {
              e.kind = EntryKind::kHardlink;
              e.link_target = it->second;
              e.size = 0;
            } else {
              hardlinks.emplace(key, e.path);
            }
          }
        }
        if (e.kind == EntryKind::kFile) {
          while (pcur && path_less(pcur->path, e.path)) advance_parent();
          if (pcur && pcur->path == e.path && pcur->kind == EntryKind::kFile &&
              pcur->size == e.size && pcur->mtime_ns == e.mtime_ns &&
              pcur->ctime_ns == e.ctime_ns && pcur->inode == e.inode &&
              e.ctime_ns < parent->time_ns - kTimestampMarginNs && chunks_present(*pcur)) {
            e.chunks = pcur->chunks;
            repo::copy_page_map(*pcur, e);
            slot->reused = true;
            if (options.counters) options.counters->bytes += e.size;
          } else {
            read = true;
            if (options.block_file && options.block_file(e.path)) {
              slot->block = true;
              if (pcur && pcur->path == e.path && pcur->kind == EntryKind::kFile &&
                  chunks_present(*pcur))
                slot->parent = *pcur;
            }
          }
        }
        slot->entry = std::move(e);
        if (!read) slot->done = true;
        {
          std::lock_guard g(mu);
          pending.push_back(slot);
        }
        if (read) {
          file_pool.submit([&, slot] {
            try {
              if (slot->block)
                read_block(repo, chunk_pool, options.counters, *slot, pages, warn);
              else
                read_file(pipeline, *slot);
            } catch (const Error& err) {
              if (err.code() != Errc::kSourceUnreadable) {
                std::lock_guard g(mu);
                slot->failed = slot->done = true;
                cv.notify_all();
                throw;
              }
              slot->skip = true;
              warn(err.what());
            } catch (...) {
              std::lock_guard g(mu);
              slot->failed = slot->done = true;
              cv.notify_all();
              throw;
            }
            std::lock_guard g(mu);
            slot->done = true;
            if (options.counters) ++options.counters->files;
            cv.notify_all();
          });
        } else if (options.counters && slot->entry.kind == EntryKind::kFile) {
          ++options.counters->files;
        }
        drain(kMaxPendingEntries);
      },
      [&](const std::string& path, const std::string& error) {
        warn("cannot read " + path + ": " + error);
      },
      options.filter);
  drain(0);
  file_pool.wait();
  chunk_pool.wait();
  if (scanner.joinable()) scanner.request_stop();

  m.tree = tree.finish();
  repo.flush();
  m.size = totals.size;
  m.stored_size = totals.stored;
  m.file_count = totals.files;
  m.dir_count = totals.dirs;
  m.added_size = stats.added_bytes;
  m.end_time_ns = now_ns();
  if (options.save) repo.save_manifest(m);
  return result;
}

BackupResult backup_command(repo::Repository& repo, const CommandBackupOptions& options) {
  if (options.command.empty()) throw Error(Errc::kUsage, "--command is empty");
  if (!repo::valid_relative_path(options.name) || options.name.find('/') != std::string::npos)
    throw Error(Errc::kUsage, "--name must be a plain name (no '/', not '.' or '..')");
  auto lock = repo::RepoLock::acquire(repo, "backup", false);
  repo.load_index();
  BackupResult result;
  repo::Manifest& m = result.manifest;
  m.type = "command";
  m.host = options.host.empty() ? host_name() : options.host;
  m.user = user_name();
  m.name = options.name;
  m.command = options.command;
  m.source = "command:" + options.name;
  m.tags = options.tags;
  m.time_ns = now_ns();

  repo::WriteStats stats;  // what this backup adds (outlives the pool below)
  const size_t threads = WorkerPool::default_threads();
  WorkerPool chunk_pool(threads, 2 * threads);
  ChunkPipeline pipeline(repo, chunk_pool, options.counters, &stats);
  Entry e;
  e.kind = EntryKind::kFile;
  e.path = options.name;
  e.mode = 0600;
  e.uid = ::geteuid();
  e.gid = ::getegid();
  e.mtime_ns = m.time_ns;
  {
    source::CommandProcess proc(options.command);
    e.size = pipeline.store_stream(proc.stdout_fd(), std::nullopt, e.chunks, "command output");
    m.exit_status = proc.wait();
    if (m.exit_status != 0) {
      std::string err = proc.stderr_tail();
      while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
      throw Error(Errc::kCommandFailed, "command `" + options.command + "` exited with status " +
                                            std::to_string(m.exit_status) +
                                            "; no backup was recorded" +
                                            (err.empty() ? "" : "; its stderr:\n" + err));
    }
  }
  repo::TreeWriter tree(repo, &stats);
  tree.add(e);
  Totals totals;
  totals.add(e);
  m.tree = tree.finish();
  repo.flush();
  m.size = e.size;
  m.stored_size = totals.stored;
  m.file_count = 1;
  m.added_size = stats.added_bytes;
  m.end_time_ns = now_ns();
  repo.save_manifest(m);
  return result;
}

}  // namespace sr::ops

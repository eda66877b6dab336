#include "ops/restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>

#include "base/fs.h"
#include "base/random.h"
#include "repo/lock.h"
#include "repo/tree_stream.h"

namespace sr::ops {

using repo::Entry;
using repo::EntryKind;

namespace {
constexpr uint64_t kTaskBytes = 8ull << 20;

// Opens `rel` (a directory, or "" for the target itself) beneath the target.
int open_beneath(int root, const std::string& rel, uint64_t flags) {
  if (rel.empty()) return ::fcntl(root, F_DUPFD_CLOEXEC, 0);
  struct open_how how = {};
  how.flags = flags | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
}

std::pair<std::string, std::string> split(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) return {"", path};
  return {path.substr(0, pos), path.substr(pos + 1)};
}

// Caches the parent directory descriptor: entries come grouped by directory.
class ParentDirs {
 public:
  explicit ParentDirs(int root, const std::string& target) : root_(root), target_(target) {}
  int get(const std::string& dir) {
    if (fd_ && dir == dir_) return fd_.get();
    int fd = open_beneath(root_, dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
      throw_errno("cannot open directory " + target_ + "/" + dir +
                  " (a path in the backup is not "
                  "a plain directory beneath the target)");
    fd_ = Fd(fd);
    dir_ = dir;
    return fd;
  }

 private:
  int root_;
  std::string target_;
  Fd fd_;
  std::string dir_;
};

bool is_root() { return ::geteuid() == 0; }

void set_owner_and_times(int dirfd, const std::string& name, const Entry& e, int flags) {
  if (is_root() && ::fchownat(dirfd, name.c_str(), e.uid, e.gid, flags) != 0)
    throw_errno("cannot set the owner of " + e.path);
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(e.mtime_ns / 1000000000);
  ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(e.mtime_ns % 1000000000);
  if (::utimensat(dirfd, name.c_str(), ts, flags) != 0)
    throw_errno("cannot set the times of " + e.path);
}

void set_fd_metadata(int fd, const Entry& e) {
  if (is_root() && ::fchown(fd, e.uid, e.gid) != 0)
    throw_errno("cannot set the owner of " + e.path);
  if (::fchmod(fd, e.mode) != 0) throw_errno("cannot set the mode of " + e.path);
  struct timespec ts[2];
  ts[0].tv_sec = ts[1].tv_sec = static_cast<time_t>(e.mtime_ns / 1000000000);
  ts[0].tv_nsec = ts[1].tv_nsec = static_cast<long>(e.mtime_ns % 1000000000);
  if (::futimens(fd, ts) != 0) throw_errno("cannot set the times of " + e.path);
}

// Removes what stands at name when it is in the way (only with --force).
void clear_existing(int dirfd, const std::string& name, bool want_dir) {
  struct stat st;
  if (::fstatat(dirfd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
  if (S_ISDIR(st.st_mode)) {
    if (want_dir) return;
    if (::unlinkat(dirfd, name.c_str(), AT_REMOVEDIR) != 0)
      throw_errno("cannot replace directory " + name + " (not empty?)");
    return;
  }
  if (::unlinkat(dirfd, name.c_str(), 0) != 0) throw_errno("cannot replace " + name);
}

bool dir_is_empty(const std::string& path) {
  DIR* d = ::opendir(path.c_str());
  if (!d) return true;
  bool empty = true;
  while (struct dirent* e = ::readdir(d))
    if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) {
      empty = false;
      break;
    }
  ::closedir(d);
  return empty;
}

// A file being written by several tasks; the last one to finish applies its metadata.
struct OpenFile {
  Fd fd;
  Entry entry;
  std::atomic<size_t> remaining{0};
};

void write_range(repo::Repository& repo, OpenFile& f, size_t first, size_t last, uint64_t offset,
                 Counters* counters) {
  for (size_t i = first; i < last; ++i) {
    const auto& c = f.entry.chunks[i];
    if (!c.hole) {
      auto loc = repo.lookup(c.id);
      if (!loc)
        throw Error(Errc::kCorrupt, "chunk " + to_hex(c.id) + " of " + f.entry.path +
                                        " is missing from the repository (run verify)");
      Bytes data = repo.read_blob(c.id, *loc);
      if (data.size() != c.raw_length)
        throw Error(Errc::kCorrupt,
                    "chunk " + to_hex(c.id) + " of " + f.entry.path + " has the wrong length");
      if (c.has_delta) {  // patch the changed pages into the base before writing it
        auto dloc = repo.lookup(c.delta_id);
        if (!dloc)
          throw Error(Errc::kCorrupt, "delta chunk " + to_hex(c.delta_id) + " of " + f.entry.path +
                                          " is missing from the repository (run verify)");
        Bytes plain = repo.read_blob(c.delta_id, *dloc);
        repo::Delta d = repo::decode_delta(plain, c.raw_length, "delta of " + f.entry.path);
        size_t at = 0;
        for (uint16_t p : d.pages) {
          size_t off = size_t{p} * d.page_size;
          size_t len = std::min<size_t>(d.page_size, data.size() - off);
          std::memcpy(data.data() + off, d.data.data() + at, len);
          at += len;
        }
      }
      pwrite_all(f.fd.get(), data, offset, f.entry.path);
      if (counters) counters->bytes += data.size();
    } else if (counters) {
      counters->bytes += c.raw_length;
    }
    offset += c.raw_length;
  }
}
}  // namespace

RestoreResult restore_files(repo::Repository& repo, const repo::Manifest& m,
                            const RestoreOptions& options) {
  if (m.type == "command")
    throw Error(Errc::kUsage, "backup " + m.id + " is a " + m.type +
                                  " backup; restore it with --to FILE or --to -");
  if (path_exists(options.target) && !dir_is_empty(options.target) && !options.force)
    throw Error(Errc::kAlreadyExists,
                "restore target " + options.target +
                    " is not empty; choose an empty directory or pass --force");
  auto lock = repo::RepoLock::acquire_for_reading(repo, "restore");
  repo.load_index();
  mkdirs(options.target, 0700);
  Fd root = open_or_throw(options.target, O_RDONLY | O_DIRECTORY);
  if (options.counters) {
    options.counters->total_bytes = m.size;
    options.counters->total_files = m.file_count;
    options.counters->total_known = true;
  }

  RestoreResult result;
  const size_t threads = WorkerPool::default_threads();
  WorkerPool pool(threads, 2 * threads);
  ParentDirs parents(root.get(), options.target);
  // Directories whose entries are still being created. A directory's metadata is applied when
  // the walk leaves it (children first), so a read-only or non-searchable mode never blocks the
  // creation of its own entries, and its mtime is set after they changed it. Depth-bounded.
  std::vector<Entry> open_dirs;
  auto close_dir = [&] {
    const Entry& d = open_dirs.back();
    Fd fd(open_beneath(root.get(), d.path, O_RDONLY | O_DIRECTORY));
    if (!fd) throw_errno("cannot open directory " + d.path);
    set_fd_metadata(fd.get(), d);
    open_dirs.pop_back();
  };
  {
    repo::TreeReader tree(repo, m);
    while (auto e = tree.next()) {
      while (!open_dirs.empty() &&
             !(e->path.size() > open_dirs.back().path.size() &&
               e->path.compare(0, open_dirs.back().path.size(), open_dirs.back().path) == 0 &&
               e->path[open_dirs.back().path.size()] == '/'))
        close_dir();
      auto [dir, name] = split(e->path);
      int pfd = parents.get(dir);
      switch (e->kind) {
        case EntryKind::kDir:
          if (options.force) clear_existing(pfd, name, true);
          if (::mkdirat(pfd, name.c_str(), 0700) != 0 && errno != EEXIST)
            throw_errno("cannot create directory " + e->path);
          ++result.dirs;
          open_dirs.push_back(*e);
          break;
        case EntryKind::kFile: {
          if (options.force) clear_existing(pfd, name, false);
          int fd = ::openat(pfd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                            0600);
          if (fd < 0) throw_errno("cannot create " + e->path);
          auto f = std::make_shared<OpenFile>();
          f->fd = Fd(fd);
          if (::ftruncate(fd, static_cast<off_t>(e->size)) != 0)
            throw_errno("cannot size " + e->path);
          f->entry = std::move(*e);
          ++result.files;
          result.bytes += f->entry.size;
          // Split the chunk list into tasks of about kTaskBytes.
          std::vector<std::tuple<size_t, size_t, uint64_t>> ranges;
          size_t first = 0;
          uint64_t offset = 0, start = 0, acc = 0;
          const auto& chunks = f->entry.chunks;
          for (size_t i = 0; i < chunks.size(); ++i) {
            acc += chunks[i].raw_length;
            offset += chunks[i].raw_length;
            if (acc >= kTaskBytes || i + 1 == chunks.size()) {
              ranges.emplace_back(first, i + 1, start);
              first = i + 1;
              start = offset;
              acc = 0;
            }
          }
          if (ranges.empty()) {
            set_fd_metadata(fd, f->entry);
            break;
          }
          f->remaining = ranges.size();
          for (auto [a, b, off] : ranges) {
            pool.submit([&repo, f, a = a, b = b, off = off, c = options.counters] {
              write_range(repo, *f, a, b, off, c);
              if (--f->remaining == 0) set_fd_metadata(f->fd.get(), f->entry);
            });
          }
          break;
        }
        case EntryKind::kHardlink: {
          auto [tdir, tname] = split(e->link_target);
          Fd tfd(open_beneath(root.get(), tdir, O_RDONLY | O_DIRECTORY));
          if (!tfd) throw_errno("cannot open directory of hardlink target " + e->link_target);
          if (options.force) clear_existing(pfd, name, false);
          if (::linkat(tfd.get(), tname.c_str(), pfd, name.c_str(), 0) != 0)
            throw_errno("cannot create hardlink " + e->path + " -> " + e->link_target);
          ++result.files;
          break;
        }
        case EntryKind::kSymlink:
          if (options.force) clear_existing(pfd, name, false);
          if (::symlinkat(e->link_target.c_str(), pfd, name.c_str()) != 0)
            throw_errno("cannot create symlink " + e->path);
          set_owner_and_times(pfd, name, *e, AT_SYMLINK_NOFOLLOW);
          break;
        case EntryKind::kFifo:
        case EntryKind::kCharDev:
        case EntryKind::kBlockDev: {
          mode_t type = e->kind == EntryKind::kFifo      ? S_IFIFO
                        : e->kind == EntryKind::kCharDev ? S_IFCHR
                                                         : S_IFBLK;
          if (e->kind != EntryKind::kFifo && !is_root()) break;  // devices need root
          if (options.force) clear_existing(pfd, name, false);
          if (::mknodat(pfd, name.c_str(), type | e->mode, static_cast<dev_t>(e->rdev)) != 0)
            throw_errno("cannot create " + e->path);
          if (::fchmodat(pfd, name.c_str(), e->mode, AT_SYMLINK_NOFOLLOW) != 0)
            throw_errno("cannot chmod " + e->path);
          set_owner_and_times(pfd, name, *e, AT_SYMLINK_NOFOLLOW);
          break;
        }
      }
      if (pool.failed()) break;
    }
  }
  pool.wait();

  while (!open_dirs.empty()) close_dir();
  if (::syncfs(root.get()) != 0) throw_errno("cannot sync " + options.target);
  return result;
}

RestoreResult restore_command(repo::Repository& repo, const repo::Manifest& m,
                              const std::string& target, bool force) {
  if (m.type != "command")
    throw Error(Errc::kUsage, "backup " + m.id + " is a files backup; restore it with --to DIR");
  auto lock = repo::RepoLock::acquire_for_reading(repo, "restore");
  repo.load_index();
  repo::TreeReader tree(repo, m);
  auto e = tree.next();
  if (!e || e->kind != EntryKind::kFile)
    throw Error(Errc::kCorrupt, "backup " + m.id + " has no output stream");
  RestoreResult result;
  Fd out;
  int fd = 1;
  std::string tmp;
  if (target != "-") {
    if (path_exists(target) && !force)
      throw Error(Errc::kAlreadyExists,
                  "restore target " + target + " exists; pass --force to replace it");
    // A fresh, unpredictable name created exclusively: never follows a planted symlink.
    tmp = target + ".tmp-" + random_hex(8);
    out = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0600);
    fd = out.get();
  }
  try {
    for (const auto& c : e->chunks) {
      Bytes data = c.hole ? Bytes(c.raw_length, 0) : repo.read_chunk(c.id);
      write_all(fd, data, target == "-" ? "standard output" : tmp);
      result.bytes += data.size();
    }
    if (!tmp.empty()) {
      if (::fsync(fd) != 0) throw_errno("cannot fsync " + tmp);
      out.reset();
      if (force) {
        if (::rename(tmp.c_str(), target.c_str()) != 0) throw_errno("cannot rename " + tmp);
      } else {
        // link() never replaces: a file that appeared at target meanwhile is not overwritten.
        if (::link(tmp.c_str(), target.c_str()) != 0) throw_errno("cannot create " + target);
        ::unlink(tmp.c_str());
      }
      tmp.clear();
      fsync_dir(dirname_of(target));
    }
  } catch (...) {
    out.reset();
    if (!tmp.empty()) ::unlink(tmp.c_str());
    throw;
  }
  result.files = 1;
  return result;
}

}  // namespace sr::ops

// The file system side of a restore: see ops/restore_parts.h.
#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/fs.h"
#include "base/path_order.h"
#include "base/random.h"
#include "ops/restore_parts.h"
#include "repo/tree_stream.h"

namespace sr::ops::restore_parts {

using repo::Entry;
using repo::EntryKind;

namespace {
bool is_root() { return ::geteuid() == 0; }
}  // namespace

int open_beneath(int root, const std::string& rel, uint64_t flags) {
  if (rel.empty()) return ::fcntl(root, F_DUPFD_CLOEXEC, 0);
  struct open_how how = {};
  how.flags = flags | O_CLOEXEC;
  if (flags & O_CREAT) how.mode = 0600;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  for (;;) {
    long fd = ::syscall(SYS_openat2, root, rel.c_str(), &how, sizeof how);
    if (fd >= 0 || errno != EAGAIN) return static_cast<int>(fd);
  }
}

Fd mkdirs_beneath(int root, const std::string& rel, int mode) {
  Fd cur(::fcntl(root, F_DUPFD_CLOEXEC, 0));
  if (!cur) throw_errno("cannot open the target");
  size_t begin = 0;
  while (begin < rel.size()) {
    size_t end = rel.find('/', begin);
    if (end == std::string::npos) end = rel.size();
    std::string name = rel.substr(begin, end - begin);
    if (::mkdirat(cur.get(), name.c_str(), static_cast<mode_t>(mode)) != 0 && errno != EEXIST)
      throw_errno("cannot create directory " + rel.substr(0, end) + " in the target");
    Fd next(open_beneath(cur.get(), name, O_RDONLY | O_DIRECTORY));
    if (!next)
      throw_errno("cannot open directory " + rel.substr(0, end) +
                  " in the target (it is not a plain directory beneath the target)");
    cur = std::move(next);
    begin = end + 1;
  }
  return cur;
}

void write_beneath(int root, const std::string& rel, ByteSpan data, bool append) {
  auto [dir, name] = split_path(rel);
  Fd pfd(open_beneath(root, dir, O_RDONLY | O_DIRECTORY));
  if (!pfd)
    throw_errno("cannot open directory " + dir +
                " in the target (it is not a plain directory "
                "beneath the target)");
  auto refuse_unless_regular = [&](const struct stat& st) {
    if (!S_ISREG(st.st_mode))
      throw Error(Errc::kCorrupt, rel + " in the target is not a regular file (" +
                                      (S_ISLNK(st.st_mode)   ? "a symlink"
                                       : S_ISDIR(st.st_mode) ? "a directory"
                                                             : "a special file") +
                                      "); refusing to write to it");
  };
  struct stat st;
  if (append) {
    // Checked before opening: opening a FIFO or a device could block or act on a device.
    if (::fstatat(pfd.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0)
      refuse_unless_regular(st);
    else if (errno != ENOENT)
      throw_errno("cannot stat " + rel + " in the target");
    Fd fd(::openat(pfd.get(), name.c_str(),
                   O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0600));
    if (!fd) throw_errno("cannot open " + rel + " in the target");
    if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + rel + " in the target");
    refuse_unless_regular(st);
    write_all(fd.get(), data, rel);
    if (::fsync(fd.get()) != 0) throw_errno("cannot fsync " + rel);
    return;
  }
  // A fresh, unpredictable name created exclusively, then renamed over whatever is there (a
  // symlink there is replaced, never followed).
  std::string tmp = name + ".tmp-" + random_hex(8);
  Fd fd(
      ::openat(pfd.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) throw_errno("cannot create " + rel + " in the target");
  try {
    write_all(fd.get(), data, rel);
    if (::fsync(fd.get()) != 0) throw_errno("cannot fsync " + rel);
    if (::renameat(pfd.get(), tmp.c_str(), pfd.get(), name.c_str()) != 0)
      throw_errno("cannot write " + rel + " in the target");
  } catch (...) {
    ::unlinkat(pfd.get(), tmp.c_str(), 0);
    throw;
  }
  if (::fsync(pfd.get()) != 0) throw_errno("cannot fsync the directory of " + rel);
}

std::pair<std::string, std::string> split_path(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) return {"", path};
  return {path.substr(0, pos), path.substr(pos + 1)};
}

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

void list_existing(int dirfd, const std::string& prefix,
                   std::vector<std::pair<std::string, bool>>& out) {
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) throw_errno("cannot list " + prefix);
  DIR* d = ::fdopendir(dup);
  if (!d) {
    ::close(dup);
    throw_errno("cannot list " + prefix);
  }
  std::vector<std::pair<std::string, bool>> here;
  errno = 0;
  while (struct dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    struct stat st;
    if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
      ::closedir(d);
      throw_errno("cannot stat " + prefix + e->d_name);
    }
    here.emplace_back(e->d_name, S_ISDIR(st.st_mode));
  }
  ::closedir(d);
  for (auto& [name, is_dir] : here) {
    out.emplace_back(prefix + name, is_dir);
    if (!is_dir) continue;
    Fd sub(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub) throw_errno("cannot open " + prefix + name);
    list_existing(sub.get(), prefix + name + "/", out);
  }
}

uint64_t remove_extraneous(repo::Repository& repo, const repo::Manifest& m, int root,
                           const std::string& prefix, const Roots& roots) {
  std::vector<std::pair<std::string, bool>> have;
  list_existing(root, "", have);
  if (prefix.empty())
    std::erase_if(have, [&](const auto& h) { return roots.is_reserved(h.first); });
  std::sort(have.begin(), have.end(),
            [](const auto& a, const auto& b) { return path_less(a.first, b.first); });
  ExtraneousFinder finder(have);
  repo::TreeReader tree(repo, m);
  while (auto e = tree.next()) {
    std::string path = e->path;
    bool as_dir = e->kind == EntryKind::kDir;
    if (!prefix.empty()) {
      if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0 ||
          path[prefix.size()] != '/')
        continue;
      path = path.substr(prefix.size() + 1);
    } else {
      if (std::get<0>(roots.locate(path)) != root) continue;  // beneath a relocated directory
      if (roots.relocated(path)) as_dir = false;              // a symlink to it
    }
    finder.want(path, as_dir);
  }
  std::vector<size_t> remove = finder.finish();
  // Children sort after their directory: remove in reverse order.
  for (auto it = remove.rbegin(); it != remove.rend(); ++it) {
    const auto& [path, is_dir] = have[*it];
    auto [dir, name] = split_path(path);
    Fd pfd(open_beneath(root, dir, O_RDONLY | O_DIRECTORY));
    if (!pfd) throw_errno("cannot open directory " + dir);
    if (::unlinkat(pfd.get(), name.c_str(), is_dir ? AT_REMOVEDIR : 0) != 0)
      throw_errno("cannot remove " + path + " (not in the backup)");
  }
  return remove.size();
}

ExtraneousFinder::ExtraneousFinder(const std::vector<std::pair<std::string, bool>>& have)
    : have_(have) {}

void ExtraneousFinder::want(const std::string& path, bool as_dir) {
  while (i_ < have_.size() && path_less(have_[i_].first, path)) remove_.push_back(i_++);
  if (i_ < have_.size() && have_[i_].first == path) {
    if (have_[i_].second != as_dir) remove_.push_back(i_);
    ++i_;
  }
}

std::vector<size_t> ExtraneousFinder::finish() {
  while (i_ < have_.size()) remove_.push_back(i_++);
  return std::move(remove_);
}

}  // namespace sr::ops::restore_parts

#include "storage/local_storage.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/fs.h"
#include "base/random.h"

namespace sr::storage {

namespace {
// Repository files and directories are private to the owner (FORMAT.md, "Permissions"): a key
// slot readable by another local user could be attacked offline.
constexpr int kFileMode = 0600;
constexpr int kDirMode = 0700;

// When root (euid 0) writes into a repository directory another user owns (e.g. a backup run by
// root next to a PostgreSQL archive_command run as postgres), new files and directories are given
// to that owner, so the private modes do not lock the owner out. Returns -1: leave as created.
uid_t adopt_owner(const std::string& root, gid_t* gid) {
  struct stat st;
  if (::geteuid() != 0 || ::stat(root.c_str(), &st) != 0 || st.st_uid == 0)
    return static_cast<uid_t>(-1);
  *gid = st.st_gid;
  return st.st_uid;
}

void give_to_owner(const std::string& root, const std::string& path, int fd = -1) {
  gid_t gid = 0;
  uid_t uid = adopt_owner(root, &gid);
  if (uid == static_cast<uid_t>(-1)) return;
  int rc = fd >= 0 ? ::fchown(fd, uid, gid) : ::lchown(path.c_str(), uid, gid);
  if (rc != 0) throw_errno("cannot give " + path + " to the repository's owner");
}

// mkdirs for directories below the root: each one created 0700 and given to the owner.
void make_dirs_below(const std::string& root, const std::string& dir) {
  if (!path_exists(root)) mkdirs(root, kDirMode);
  if (dir.size() <= root.size()) return;
  size_t pos = root.size();
  while (pos != std::string::npos) {
    pos = dir.find('/', pos + 1);
    std::string part = dir.substr(0, pos);
    if (::mkdir(part.c_str(), kDirMode) == 0) {
      give_to_owner(root, part);
      fsync_dir(dirname_of(part));
    } else if (errno != EEXIST) {
      throw_errno("cannot create directory " + part);
    }
  }
}
}  // namespace

LocalStorage::LocalStorage(std::string root) : root_(std::move(root)) {
  while (root_.size() > 1 && root_.back() == '/') root_.pop_back();
}

std::string LocalStorage::path_of(const std::string& key) const {
  if (key.empty() || key.front() == '/' || key.find("..") != std::string::npos)
    throw Error(Errc::kInternal, "invalid storage key '" + key + "'");
  return root_ + "/" + key;
}

std::string LocalStorage::staging_dir() {
  std::string dir = root_ + "/tmp";
  make_dirs_below(root_, dir);
  return dir;
}

void LocalStorage::create_if_missing() {
  mkdirs(root_, kDirMode);
  // An existing directory (init into a directory made beforehand) is tightened too.
  if (::chmod(root_.c_str(), kDirMode) != 0) throw_errno("cannot set permissions of " + root_);
}

void LocalStorage::publish(const std::string& tmp, const std::string& key, bool if_absent) {
  std::string dst = path_of(key);
  std::string dir = dirname_of(dst);
  make_dirs_below(root_, dir);
  {
    Fd fd = open_or_throw(tmp, O_RDONLY);
    give_to_owner(root_, tmp, fd.get());
  }
  if (if_absent) {
    if (::link(tmp.c_str(), dst.c_str()) != 0) {
      int err = errno;
      ::unlink(tmp.c_str());
      if (err == EEXIST)
        throw Error(Errc::kAlreadyExists, describe() + ": " + key + " already exists");
      throw_errno("cannot publish " + dst, err);
    }
    ::unlink(tmp.c_str());
  } else if (::rename(tmp.c_str(), dst.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_errno("cannot publish " + dst, err);
  }
  fsync_dir(dir);
}

void LocalStorage::put(const std::string& key, ByteSpan data, bool if_absent) {
  std::string dst = path_of(key);
  std::string dir = dirname_of(dst);
  make_dirs_below(root_, dir);
  publish(write_temp_synced(dir, data, kFileMode), key, if_absent);
}

void LocalStorage::put_file(const std::string& key, const std::string& path, bool if_absent) {
  {
    Fd fd = open_or_throw(path, O_RDONLY);
    // Staged by a writer that may have used a wider mode: private before it is published.
    if (::fchmod(fd.get(), kFileMode) != 0) throw_errno("cannot set permissions of " + path);
    if (::fsync(fd.get()) != 0) throw_errno("cannot fsync " + path);
  }
  publish(path, key, if_absent);
}

Bytes LocalStorage::get(const std::string& key, uint64_t offset, std::optional<uint64_t> length) {
  std::string p = path_of(key);
  int raw = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
  if (raw < 0) {
    if (errno == ENOENT) throw Error(Errc::kNotFound, describe() + ": " + key + " does not exist");
    throw_errno("cannot open " + p);
  }
  Fd fd(raw);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + p);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (offset > size || (length && *length > size - offset))
    throw Error(Errc::kCorrupt, describe() + ": " + key + " is shorter than expected (" +
                                    std::to_string(size) + " bytes)");
  uint64_t n = length ? *length : size - offset;
  Bytes out(static_cast<size_t>(n));
  pread_exact(fd.get(), out, offset, p);
  return out;
}

std::optional<ObjectInfo> LocalStorage::stat(const std::string& key) {
  struct stat st;
  if (::stat(path_of(key).c_str(), &st) != 0) {
    if (errno == ENOENT) return std::nullopt;
    throw_errno("cannot stat " + path_of(key));
  }
  if (!S_ISREG(st.st_mode)) return std::nullopt;  // a directory is not an object
  return ObjectInfo{key, static_cast<uint64_t>(st.st_size)};
}

static void walk(const std::string& root, const std::string& rel,
                 const std::function<void(const ObjectInfo&)>& visit) {
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (errno == ENOENT || errno == ENOTDIR) return;
    throw_errno("cannot list " + dir);
  }
  struct Closer {
    DIR* d;
    ~Closer() { ::closedir(d); }
  } closer{d};
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || name.rfind(".tmp-", 0) == 0) continue;
    std::string child = rel.empty() ? name : rel + "/" + name;
    struct stat st;
    if (::lstat((root + "/" + child).c_str(), &st) != 0) continue;  // removed meanwhile
    if (S_ISDIR(st.st_mode))
      walk(root, child, visit);
    else if (S_ISREG(st.st_mode))
      visit(ObjectInfo{child, static_cast<uint64_t>(st.st_size),
                       st.st_mtim.tv_sec * 1'000'000'000LL + st.st_mtim.tv_nsec});
  }
}

void LocalStorage::list(const std::string& prefix,
                        const std::function<void(const ObjectInfo&)>& visit) {
  // Walk the deepest directory the prefix names, then filter by the full prefix.
  std::string dir =
      prefix.substr(0, prefix.rfind('/') == std::string::npos ? 0 : prefix.rfind('/'));
  walk(root_, dir, [&](const ObjectInfo& info) {
    if (info.key.rfind(prefix, 0) == 0) visit(info);
  });
}

void LocalStorage::remove(const std::string& key) {
  std::string p = path_of(key);
  if (::unlink(p.c_str()) != 0 && errno != ENOENT) throw_errno("cannot remove " + p);
}

}  // namespace sr::storage

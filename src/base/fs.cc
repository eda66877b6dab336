#include "base/fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "base/random.h"

namespace sr {

void Fd::reset() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

Fd open_or_throw(const std::string& path, int flags, int mode) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
  if (fd < 0) throw_errno("cannot open " + path);
  return Fd(fd);
}

void write_all(int fd, ByteSpan data, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write " + what);
    }
    done += static_cast<size_t>(n);
  }
}

void pwrite_all(int fd, ByteSpan data, uint64_t offset, const std::string& what) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n =
        ::pwrite(fd, data.data() + done, data.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot write " + what);
    }
    done += static_cast<size_t>(n);
  }
}

size_t read_full(int fd, std::span<uint8_t> buf, const std::string& what) {
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n = ::read(fd, buf.data() + done, buf.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + what);
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  return done;
}

void pread_exact(int fd, std::span<uint8_t> buf, uint64_t offset, const std::string& what) {
  size_t done = 0;
  while (done < buf.size()) {
    ssize_t n =
        ::pread(fd, buf.data() + done, buf.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      throw_errno("cannot read " + what);
    }
    if (n == 0) throw Error(Errc::kCorrupt, what + " is shorter than expected");
    done += static_cast<size_t>(n);
  }
}

Bytes read_file(const std::string& path) {
  Fd fd = open_or_throw(path, O_RDONLY);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + path);
  Bytes out(static_cast<size_t>(st.st_size));
  size_t n = read_full(fd.get(), out, path);
  out.resize(n);
  return out;
}

void fsync_dir(const std::string& dir) {
  Fd fd = open_or_throw(dir.empty() ? "." : dir, O_RDONLY | O_DIRECTORY);
  if (::fsync(fd.get()) != 0) throw_errno("cannot fsync directory " + dir);
}

std::string basename_of(const std::string& path) {
  auto pos = path.rfind('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::string shell_quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string dirname_of(const std::string& path) {
  auto pos = path.rfind('/');
  if (pos == std::string::npos) return ".";
  if (pos == 0) return "/";
  return path.substr(0, pos);
}

size_t pwrite_direct(int fd, ByteSpan data, uint64_t offset, const std::string& what) {
  if (!direct_io_aligned(data, offset)) return 0;
  const size_t want = data.size() / kDirectIoAlign * kDirectIoAlign;
  size_t done = 0;
  while (done < want) {
    ssize_t n = ::pwrite(fd, data.data() + done, want - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EINVAL && done == 0) return 0;  // refused by the file system
    if (n < 0) throw_errno("cannot write " + what);
    done += static_cast<size_t>(n);
    if (done % kDirectIoAlign != 0) break;  // short and unaligned: the rest goes buffered
  }
  return done;
}

namespace {
constexpr size_t kDirectMin = 1u << 20;

// Writes the aligned prefix of a large aligned buffer with O_DIRECT; returns the bytes written.
size_t write_direct_prefix(int fd, ByteSpan data, const std::string& what) {
  if (data.size() < kDirectMin || !direct_io_aligned(data, 0)) return 0;
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_DIRECT) != 0) return 0;
  size_t done = 0;
  try {
    done = pwrite_direct(fd, data, 0, what);
  } catch (...) {
    ::fcntl(fd, F_SETFL, flags);
    throw;
  }
  ::fcntl(fd, F_SETFL, flags);
  return done;
}
}  // namespace

std::string write_temp_synced(const std::string& dir, ByteSpan data, int mode) {
  std::string tmp = dir + "/.tmp-" + random_hex(8);
  Fd fd = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL, mode);
  try {
    size_t direct = write_direct_prefix(fd.get(), data, tmp);
    if (direct > 0 && ::lseek(fd.get(), static_cast<off_t>(direct), SEEK_SET) < 0)
      throw_errno("cannot seek " + tmp);
    write_all(fd.get(), data.subspan(direct), tmp);
    if (::fsync(fd.get()) != 0) throw_errno("cannot fsync " + tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  return tmp;
}

void write_file_atomic(const std::string& path, ByteSpan data) {
  std::string dir = dirname_of(path);
  std::string tmp = write_temp_synced(dir, data);
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw_errno("cannot rename " + tmp + " to " + path, err);
  }
  fsync_dir(dir);
}

void mkdirs(const std::string& path, int mode) {
  if (path.empty()) return;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) throw Error(Errc::kIo, path + " exists and is not a directory");
    return;
  }
  std::string parent = dirname_of(path);
  if (parent != path && parent != "." && parent != "/") mkdirs(parent, mode);
  if (::mkdir(path.c_str(), static_cast<mode_t>(mode)) != 0) {
    if (errno == EEXIST) return;
    throw_errno("cannot create directory " + path);
  }
  // Make the new directory's entry durable: later fsyncs inside it do not cover its parent.
  fsync_dir(parent == "." ? std::string(".") : parent);
}

namespace {
constexpr size_t kWindow = 2u << 20;  // MappedFile's read-ahead requests
}  // namespace

MappedFile::MappedFile(const std::string& path, Load load) {
  Fd fd = open_or_throw(path, O_RDONLY);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw_errno("cannot stat " + path);
  size_ = static_cast<size_t>(st.st_size);
  if (size_ == 0) return;
  data_ = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE | (load == Load::kNow ? MAP_POPULATE : 0),
                 fd.get(), 0);
  if (data_ == MAP_FAILED) {
    data_ = nullptr;
    throw_errno("cannot map " + path);
  }
  if (load == Load::kAhead) {
    // One WILLNEED reads at most the device's read-ahead window (8 MiB here): ask window by
    // window, or the rest would be read a little at a time, on demand. The first window now,
    // the others from a helper, the two halves in turn.
    auto* p = static_cast<uint8_t*>(data_);
    const size_t size = size_;
    auto ask = [p, size](size_t at) {
      if (at < size) ::madvise(p + at, std::min(kWindow, size - at), MADV_WILLNEED);
    };
    ask(0);
    if (size_ > kWindow) {
      const size_t half = (size_ / 2) / kWindow * kWindow;
      prefetch_ = std::thread([ask, half, size] {
        for (size_t a = 0, b = half; a < half || b < size; a += kWindow, b += kWindow) {
          if (b < size) ask(b);
          if (a > 0 && a < half) ask(a);
        }
      });
    }
  }
}

MappedFile::~MappedFile() {
  if (prefetch_.joinable()) prefetch_.join();
  if (data_) ::munmap(data_, size_);
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

bool path_exists(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0;
}

}  // namespace sr

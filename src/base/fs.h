// base/fs.h: small POSIX helpers with RAII file descriptors and crash-safe writes.
//
// write_file_atomic is the one way strongroom publishes a local file: write to a temporary file
// in the same directory, fsync it, rename it over the name, fsync the directory. A crash at any
// point leaves either the old state or the new one, plus at most a ".tmp-*" leftover.
#pragma once

#include <string>
#include <thread>
#include <utility>

#include "base/bytes.h"

namespace sr {

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  ~Fd() { reset(); }
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset();

 private:
  int fd_ = -1;
};

Fd open_or_throw(const std::string& path, int flags, int mode = 0644);
void write_all(int fd, ByteSpan data, const std::string& what);
void pwrite_all(int fd, ByteSpan data, uint64_t offset, const std::string& what);
// Reads up to buf.size() bytes, retrying on EINTR and short reads; returns bytes read (< size at
// EOF).
size_t read_full(int fd, std::span<uint8_t> buf, const std::string& what);
void pread_exact(int fd, std::span<uint8_t> buf, uint64_t offset, const std::string& what);
Bytes read_file(const std::string& path);

// Direct I/O (O_DIRECT): no copy into the page cache, which on virtual disks costs more CPU than
// the disk write itself. Buffers, offsets and lengths must be multiples of kDirectIoAlign.
constexpr size_t kDirectIoAlign = 4096;
inline bool direct_io_aligned(ByteSpan data, uint64_t offset) {
  return reinterpret_cast<uintptr_t>(data.data()) % kDirectIoAlign == 0 &&
         offset % kDirectIoAlign == 0;
}
// Writes the aligned prefix of `data` (its length rounded down to kDirectIoAlign) at `offset`
// through `fd`, which has O_DIRECT set; returns the bytes written: 0 when `data` is not aligned
// or the file system refuses direct I/O, less than the prefix when the kernel stopped short. The
// caller writes the rest buffered. Other errors throw, naming `what`.
size_t pwrite_direct(int fd, ByteSpan data, uint64_t offset, const std::string& what);
// A whole file mapped read-only (no copy, no zero-filled buffer): for large inputs read once.
class MappedFile {
 public:
  // kNow maps every page before returning (MAP_POPULATE). kAhead returns at once and has the
  // kernel read the whole file in the background: the caller's threads work on the pages that
  // arrived while the rest is still coming (a cold 16 MiB WAL segment takes ~17 ms to read
  // here, as long as compressing it on two cores). Asking for the pages takes a few ms itself,
  // so a helper thread asks, alternating between the two halves of the file (where two
  // compressing threads start), and the destructor waits for it.
  enum class Load { kNow, kAhead };
  explicit MappedFile(const std::string& path, Load load = Load::kNow);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ByteSpan span() const { return {static_cast<const uint8_t*>(data_), size_}; }

 private:
  void* data_ = nullptr;
  size_t size_ = 0;
  std::thread prefetch_;
};
void fsync_dir(const std::string& dir);
void write_file_atomic(const std::string& path, ByteSpan data);
// Writes data to a new ".tmp-*" file in dir and fsyncs it; returns its path (for a rename or
// link into place by the caller). Removes the file on failure. Large 4 KiB-aligned buffers are
// written with O_DIRECT where the file system allows it.
std::string write_temp_synced(const std::string& dir, ByteSpan data, int mode = 0644);
void mkdirs(const std::string& path, int mode = 0755);
bool path_exists(const std::string& path);
// True when `path` has no entries (or cannot be listed: it does not exist).
bool dir_is_empty(const std::string& path);
std::string dirname_of(const std::string& path);
// The last component of `path` ("a/b" → "b", "b" → "b").
std::string basename_of(const std::string& path);
// `text` quoted for /bin/sh: in single quotes, a quote written as '\''.
std::string shell_quote(const std::string& text);

}  // namespace sr

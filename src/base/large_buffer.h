// base/large_buffer.h: big scratch buffers backed by transparent huge pages.
//
// A 16 MiB buffer of 4 KiB pages costs 4 096 page faults the first time it is written, each a
// trap into the kernel (on a virtual machine, several microseconds): for a one-shot `wal-push`
// that was a third of its system time. A LargeBuffer is an anonymous mapping aligned to 2 MiB and
// marked MADV_HUGEPAGE, so it faults in 2 MiB at a time where the kernel allows it (and works the
// same, with small pages, where it does not). Contents start as zeros. Aligned for direct I/O.
#pragma once

#include <cstddef>
#include <cstdint>

namespace sr {

class LargeBuffer {
 public:
  LargeBuffer() = default;
  explicit LargeBuffer(size_t size);  // throws Error{kIo} when memory is exhausted
  ~LargeBuffer();
  LargeBuffer(LargeBuffer&& o) noexcept;
  LargeBuffer& operator=(LargeBuffer&& o) noexcept;
  LargeBuffer(const LargeBuffer&) = delete;
  LargeBuffer& operator=(const LargeBuffer&) = delete;

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  void release();
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  void* map_ = nullptr;
  size_t map_size_ = 0;
};

}  // namespace sr

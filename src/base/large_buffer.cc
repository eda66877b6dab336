#include "base/large_buffer.h"

#include <sys/mman.h>

#include <utility>

#include "base/error.h"

namespace sr {

namespace {
constexpr size_t kHuge = 2u << 20;
}

LargeBuffer::LargeBuffer(size_t size) {
  if (size == 0) return;
  // Over-map by one huge page and use the 2 MiB-aligned part, so that whole huge pages fit.
  map_size_ = size + kHuge;
  map_ = ::mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (map_ == MAP_FAILED) {
    map_ = nullptr;
    throw Error(Errc::kIo, "out of memory for a buffer of " + std::to_string(size) + " bytes");
  }
  auto at = reinterpret_cast<uintptr_t>(map_);
  data_ = reinterpret_cast<uint8_t*>((at + kHuge - 1) / kHuge * kHuge);
  size_ = size;
  ::madvise(data_, (size + kHuge - 1) / kHuge * kHuge, MADV_HUGEPAGE);  // a hint; may fail
}

LargeBuffer::~LargeBuffer() { release(); }

LargeBuffer::LargeBuffer(LargeBuffer&& o) noexcept
    : data_(std::exchange(o.data_, nullptr)),
      size_(std::exchange(o.size_, 0)),
      map_(std::exchange(o.map_, nullptr)),
      map_size_(std::exchange(o.map_size_, 0)) {}

LargeBuffer& LargeBuffer::operator=(LargeBuffer&& o) noexcept {
  if (this != &o) {
    release();
    data_ = std::exchange(o.data_, nullptr);
    size_ = std::exchange(o.size_, 0);
    map_ = std::exchange(o.map_, nullptr);
    map_size_ = std::exchange(o.map_size_, 0);
  }
  return *this;
}

void LargeBuffer::release() {
  if (map_) ::munmap(map_, map_size_);
  map_ = nullptr;
  data_ = nullptr;
  size_ = 0;
}

}  // namespace sr

#include "codec/compress.h"

#include <zstd.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/large_buffer.h"

namespace sr::codec {

namespace {
struct CctxDeleter {
  void operator()(ZSTD_CCtx* c) const { ZSTD_freeCCtx(c); }
};
struct DctxDeleter {
  void operator()(ZSTD_DCtx* c) const { ZSTD_freeDCtx(c); }
};
ZSTD_CCtx* cctx() {
  thread_local std::unique_ptr<ZSTD_CCtx, CctxDeleter> c(ZSTD_createCCtx());
  return c.get();
}
ZSTD_DCtx* dctx() {
  thread_local std::unique_ptr<ZSTD_DCtx, DctxDeleter> c(ZSTD_createDCtx());
  return c.get();
}
}  // namespace

bool compress(ByteSpan in, int level, Bytes& out) {
  out.resize(ZSTD_compressBound(in.size()));
  size_t n = ZSTD_compressCCtx(cctx(), out.data(), out.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n)) throw Error(Errc::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
  out.resize(n);
  return n + in.size() / 32 < in.size();
}

namespace {
constexpr size_t kProbeFrom = 256 * 1024;
constexpr size_t kSample = 16 * 1024;

bool looks_incompressible(ByteSpan in) {
  if (in.size() < kProbeFrom) return false;
  thread_local Bytes probe(ZSTD_compressBound(kSample));
  size_t compressed = 0;
  for (size_t at : {size_t{0}, in.size() / 2, in.size() - kSample}) {
    size_t n = ZSTD_compressCCtx(cctx(), probe.data(), probe.size(), in.data() + at, kSample, 1);
    if (ZSTD_isError(n)) return false;
    compressed += n;
  }
  return compressed * 100 >= 3 * kSample * 97;  // saves less than 3%
}
}  // namespace

std::optional<size_t> compress_into(ByteSpan in, int level, Bytes& scratch) {
  if (looks_incompressible(in)) return std::nullopt;
  size_t bound = ZSTD_compressBound(in.size());
  if (scratch.size() < bound) scratch.resize(bound);
  size_t n = ZSTD_compressCCtx(cctx(), scratch.data(), scratch.size(), in.data(), in.size(), level);
  if (ZSTD_isError(n)) throw Error(Errc::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n + in.size() / 32 >= in.size()) return std::nullopt;
  return n;
}

namespace {
constexpr size_t kMinSplitPart = 4u << 20;

size_t split_parts(size_t n) {
  size_t cores = std::max(1u, std::thread::hardware_concurrency());
  return std::max<size_t>(1, std::min(cores, n / kMinSplitPart));
}
}  // namespace

size_t compress_split_bound(size_t n) {
  size_t parts = split_parts(n);
  return ZSTD_compressBound(n / parts + n % parts) * parts;
}

std::optional<size_t> compress_split(ByteSpan in, int level, uint8_t* dst, size_t capacity,
                                     size_t max_parts) {
  if (looks_incompressible(in)) return std::nullopt;
  if (capacity < compress_split_bound(in.size()))
    throw Error(Errc::kInternal, "compress_split: output buffer too small");
  size_t parts = split_parts(in.size());
  if (max_parts) parts = std::min(parts, max_parts);
  const size_t part = in.size() / parts;
  auto span_of = [&](size_t i) {
    size_t begin = i * part;
    return in.subspan(begin, i + 1 == parts ? in.size() - begin : part);
  };
  auto compress_part = [level](ByteSpan src, uint8_t* out, size_t cap) {
    size_t n = ZSTD_compressCCtx(cctx(), out, cap, src.data(), src.size(), level);
    if (ZSTD_isError(n)) throw Error(Errc::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
    return n;
  };
  // Parts after the first go to scratch buffers (not zero-filled) on their own threads.
  std::vector<LargeBuffer> scratch(parts);
  std::vector<size_t> sizes(parts, 0);
  std::vector<std::exception_ptr> errors(parts);
  std::vector<std::thread> threads;
  for (size_t i = 1; i < parts; ++i) {
    size_t cap = ZSTD_compressBound(span_of(i).size());
    scratch[i] = LargeBuffer(cap);
    threads.emplace_back([&, i, cap] {
      try {
        sizes[i] = compress_part(span_of(i), scratch[i].data(), cap);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  try {
    sizes[0] = compress_part(span_of(0), dst, capacity);
  } catch (...) {
    errors[0] = std::current_exception();
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  size_t total = sizes[0];
  for (size_t i = 1; i < parts; ++i) {
    std::memcpy(dst + total, scratch[i].data(), sizes[i]);
    total += sizes[i];
  }
  if (total + in.size() / 32 >= in.size()) return std::nullopt;
  return total;
}

void compress_with_prefix(ByteSpan in, ByteSpan prefix, int level, Bytes& out) {
  ZSTD_CCtx* c = cctx();
  auto check = [c](size_t r) {
    if (ZSTD_isError(r)) {
      ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
      throw Error(Errc::kInternal, std::string("zstd: ") + ZSTD_getErrorName(r));
    }
    return r;
  };
  check(ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters));
  check(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level));
  check(ZSTD_CCtx_refPrefix(c, prefix.data(), prefix.size()));  // raw content, this frame only
  const size_t at = out.size();
  out.resize(at + ZSTD_compressBound(in.size()));
  size_t n = check(ZSTD_compress2(c, out.data() + at, out.size() - at, in.data(), in.size()));
  out.resize(at + n);
  ZSTD_CCtx_reset(c, ZSTD_reset_session_and_parameters);
}

void decompress_with_prefix(ByteSpan frame, ByteSpan prefix, std::span<uint8_t> out,
                            const char* what) {
  ZSTD_DCtx* d = dctx();
  ZSTD_DCtx_reset(d, ZSTD_reset_session_and_parameters);
  size_t r = ZSTD_DCtx_refPrefix(d, prefix.data(), prefix.size());
  size_t n = ZSTD_isError(r)
                 ? r
                 : ZSTD_decompressDCtx(d, out.data(), out.size(), frame.data(), frame.size());
  ZSTD_DCtx_reset(d, ZSTD_reset_session_and_parameters);
  if (ZSTD_isError(n) || n != out.size())
    throw Error(Errc::kCorrupt, std::string(what) + " is damaged: it does not decompress");
}

Bytes compress_always(ByteSpan in, int level) {
  Bytes out;
  compress(in, level, out);
  return out;
}

void decompress(ByteSpan in, size_t expected_size, Bytes& out, const char* what) {
  out.resize(expected_size);
  decompress_to(in, out, what);
}

void decompress_to(ByteSpan in, std::span<uint8_t> out, const char* what) {
  size_t n = ZSTD_decompressDCtx(dctx(), out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n) || n != out.size())
    throw Error(Errc::kCorrupt, std::string(what) + " is damaged: it does not decompress");
}

Bytes decompress_any(ByteSpan in, size_t max_size, const char* what) {
  unsigned long long size = ZSTD_getFrameContentSize(in.data(), in.size());
  if (size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN || size > max_size)
    throw Error(Errc::kCorrupt, std::string(what) + " is damaged: bad compressed frame");
  Bytes out;
  decompress(in, static_cast<size_t>(size), out, what);
  return out;
}

}  // namespace sr::codec

#include "codec/compress.h"

#include <zstd.h>

#include <memory>
#include <string>
#include <thread>

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

std::optional<size_t> compress_into_parallel(ByteSpan in, int level, Bytes& scratch) {
  if (looks_incompressible(in)) return std::nullopt;
  thread_local std::unique_ptr<ZSTD_CCtx, CctxDeleter> mt([] {
    ZSTD_CCtx* c = ZSTD_createCCtx();
    unsigned n = std::thread::hardware_concurrency();
    // Ignored (0 workers) when the library was built without multithreading.
    ZSTD_CCtx_setParameter(c, ZSTD_c_nbWorkers, static_cast<int>(n > 1 ? n : 0));
    return c;
  }());
  ZSTD_CCtx_setParameter(mt.get(), ZSTD_c_compressionLevel, level);
  size_t bound = ZSTD_compressBound(in.size());
  if (scratch.size() < bound) scratch.resize(bound);
  size_t n = ZSTD_compress2(mt.get(), scratch.data(), scratch.size(), in.data(), in.size());
  if (ZSTD_isError(n)) throw Error(Errc::kInternal, std::string("zstd: ") + ZSTD_getErrorName(n));
  if (n + in.size() / 32 >= in.size()) return std::nullopt;
  return n;
}

Bytes compress_always(ByteSpan in, int level) {
  Bytes out;
  compress(in, level, out);
  return out;
}

void decompress(ByteSpan in, size_t expected_size, Bytes& out, const char* what) {
  out.resize(expected_size);
  size_t n = ZSTD_decompressDCtx(dctx(), out.data(), out.size(), in.data(), in.size());
  if (ZSTD_isError(n) || n != expected_size)
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

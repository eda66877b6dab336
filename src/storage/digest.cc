#include "storage/digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <memory>

#include "base/error.h"
#include "base/fs.h"

namespace sr::storage {
namespace {

struct MdCtxDeleter {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

MdCtx new_sha256() {
  MdCtx ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    throw Error(Errc::kInternal, "SHA-256 initialisation failed");
  return ctx;
}

Bytes finish(EVP_MD_CTX* ctx) {
  Bytes out(32);
  unsigned int n = 0;
  if (EVP_DigestFinal_ex(ctx, out.data(), &n) != 1 || n != 32)
    throw Error(Errc::kInternal, "SHA-256 failed");
  return out;
}

}  // namespace

Bytes sha256_bytes(ByteSpan data) {
  MdCtx ctx = new_sha256();
  if (EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1)
    throw Error(Errc::kInternal, "SHA-256 failed");
  return finish(ctx.get());
}

std::string sha256_hex(ByteSpan data) { return to_hex(sha256_bytes(data)); }

std::string sha256_file_hex(const std::string& path, uint64_t offset, uint64_t length) {
  Fd fd = open_or_throw(path, O_RDONLY);
  MdCtx ctx = new_sha256();
  Bytes buf(std::min<uint64_t>(length, 1 << 20));
  while (length > 0) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(length, buf.size()));
    pread_exact(fd.get(), std::span<uint8_t>(buf.data(), n), offset, path);
    if (EVP_DigestUpdate(ctx.get(), buf.data(), n) != 1)
      throw Error(Errc::kInternal, "SHA-256 failed");
    offset += n;
    length -= n;
  }
  return to_hex(finish(ctx.get()));
}

Bytes hmac_sha256_bytes(ByteSpan key, ByteSpan message) {
  Bytes out(32);
  unsigned int n = 0;
  if (!HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), message.data(), message.size(),
            out.data(), &n) ||
      n != 32)
    throw Error(Errc::kInternal, "HMAC-SHA-256 failed");
  return out;
}

}  // namespace sr::storage

#include "codec/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <algorithm>
#include <cstring>
#include <memory>

#include "base/random.h"

namespace sr::codec {

namespace {
struct CipherCtxDeleter {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxDeleter>;

// One context per thread: EVP_CIPHER_CTX_new + cipher fetch per blob costs more than the
// encryption of a small chunk.
EVP_CIPHER_CTX* thread_ctx() {
  thread_local CipherCtx ctx(EVP_CIPHER_CTX_new());
  if (!ctx) throw Error(Errc::kInternal, "out of memory (EVP_CIPHER_CTX_new)");
  return ctx.get();
}

const EVP_CIPHER* aes_gcm() {
  static EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  if (!c) throw Error(Errc::kInternal, "OpenSSL has no AES-256-GCM");
  return c;
}

const EVP_MD* sha256_md() {
  static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  if (!md) throw Error(Errc::kInternal, "OpenSSL has no SHA-256");
  return md;
}

[[noreturn]] void crypto_fail(const char* what) {
  throw Error(Errc::kInternal, std::string("OpenSSL failure in ") + what);
}
}  // namespace

Key32 hmac_sha256(const Key32& key, ByteSpan data) {
  Key32 out;
  unsigned int len = 0;
  if (!HMAC(sha256_md(), key.data(), static_cast<int>(key.size()), data.data(), data.size(),
            out.data(), &len) ||
      len != out.size())
    crypto_fail("HMAC");
  return out;
}

ChunkId keyed_id(const Key32& key, ByteSpan data) { return hmac_sha256(key, data); }

Key32 hmac_sha256(const Key32& key, std::initializer_list<ByteSpan> parts) {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  if (!mac) throw Error(Errc::kInternal, "OpenSSL has no HMAC");
  struct MacCtxDeleter {
    void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
  };
  std::unique_ptr<EVP_MAC_CTX, MacCtxDeleter> ctx(EVP_MAC_CTX_new(mac));
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  if (!ctx || EVP_MAC_init(ctx.get(), key.data(), key.size(), params) != 1)
    crypto_fail("HMAC init");
  for (ByteSpan p : parts)
    if (!p.empty() && EVP_MAC_update(ctx.get(), p.data(), p.size()) != 1) crypto_fail("HMAC");
  Key32 out;
  size_t len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size())
    crypto_fail("HMAC final");
  return out;
}

Key32 sha256(ByteSpan data) {
  Key32 out;
  unsigned int len = 0;
  if (!EVP_Digest(data.data(), data.size(), out.data(), &len, sha256_md(), nullptr))
    crypto_fail("SHA-256");
  return out;
}

namespace {
// Encrypts `len` bytes from `in` to `ct` (which may be `in`) under a fresh nonce written to
// `nonce`, and the tag to ct + len.
void seal_to(const Key32& key, ByteSpan aad, uint8_t* nonce, const uint8_t* in, uint8_t* ct,
             size_t len) {
  random_fill({nonce, kNonceSize});
  EVP_CIPHER_CTX* ctx = thread_ctx();
  int out_len = 0;
  if (!EVP_EncryptInit_ex2(ctx, aes_gcm(), key.data(), nonce, nullptr)) crypto_fail("seal init");
  if (!aad.empty() &&
      !EVP_EncryptUpdate(ctx, nullptr, &out_len, aad.data(), static_cast<int>(aad.size())))
    crypto_fail("seal aad");
  // EVP lengths are int: feed large buffers in slices.
  size_t done = 0;
  while (done < len) {
    size_t n = std::min<size_t>(len - done, 1 << 30);
    if (!EVP_EncryptUpdate(ctx, ct + done, &out_len, in + done, static_cast<int>(n)))
      crypto_fail("seal");
    done += n;
  }
  if (!EVP_EncryptFinal_ex(ctx, ct + done, &out_len)) crypto_fail("seal final");
  if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, kTagSize, ct + len)) crypto_fail("seal tag");
}
}  // namespace

void seal_append(const Key32& key, ByteSpan plaintext, ByteSpan aad, Bytes& out) {
  size_t base = out.size();
  out.resize(base + kNonceSize + plaintext.size() + kTagSize);
  uint8_t* nonce = out.data() + base;
  seal_to(key, aad, nonce, plaintext.data(), nonce + kNonceSize, plaintext.size());
}

void seal_region(const Key32& key, ByteSpan aad, std::span<uint8_t> region) {
  if (region.size() < kSealOverhead) throw Error(Errc::kInternal, "seal_region: region too small");
  uint8_t* nonce = region.data();
  size_t len = region.size() - kSealOverhead;
  seal_to(key, aad, nonce, nonce + kNonceSize, nonce + kNonceSize, len);
}

Bytes seal(const Key32& key, ByteSpan plaintext, ByteSpan aad) {
  Bytes out;
  seal_append(key, plaintext, aad, out);
  return out;
}

void open_into(const Key32& key, ByteSpan sealed, ByteSpan aad, Bytes& out, const char* what) {
  if (sealed.size() < kSealOverhead)
    throw Error(Errc::kCorrupt, std::string(what) + " is damaged: too short to be encrypted data");
  out.resize(sealed.size() - kSealOverhead);
  try {
    open_to(key, sealed, aad, out, what);
  } catch (...) {
    out.clear();
    throw;
  }
}

void open_to(const Key32& key, ByteSpan sealed, ByteSpan aad, std::span<uint8_t> out,
             const char* what) {
  if (sealed.size() < kSealOverhead)
    throw Error(Errc::kCorrupt, std::string(what) + " is damaged: too short to be encrypted data");
  size_t n = sealed.size() - kSealOverhead;
  if (out.size() != n) throw Error(Errc::kCorrupt, std::string(what) + " has the wrong length");
  const uint8_t* nonce = sealed.data();
  const uint8_t* ct = nonce + kNonceSize;
  EVP_CIPHER_CTX* ctx = thread_ctx();
  int len = 0;
  if (!EVP_DecryptInit_ex2(ctx, aes_gcm(), key.data(), nonce, nullptr)) crypto_fail("open init");
  if (!aad.empty() &&
      !EVP_DecryptUpdate(ctx, nullptr, &len, aad.data(), static_cast<int>(aad.size())))
    crypto_fail("open aad");
  // From here on `out` may hold unauthenticated plaintext: zeroed on every way out but success
  // (std::fill, not memset: an empty span's data may be null).
  try {
    size_t done = 0;
    while (done < n) {
      size_t k = std::min<size_t>(n - done, 1 << 30);
      if (!EVP_DecryptUpdate(ctx, out.data() + done, &len, ct + done, static_cast<int>(k)))
        crypto_fail("open");
      done += k;
    }
    if (!EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, kTagSize, const_cast<uint8_t*>(ct + n)))
      crypto_fail("open tag");
    if (EVP_DecryptFinal_ex(ctx, out.data() + n, &len) != 1)
      throw Error(
          Errc::kCorrupt,
          std::string(what) + " failed authentication (damaged, or not from this repository)");
  } catch (...) {
    std::fill(out.begin(), out.end(), uint8_t{0});
    throw;
  }
}

Bytes open(const Key32& key, ByteSpan sealed, ByteSpan aad, const char* what) {
  Bytes out;
  open_into(key, sealed, aad, out, what);
  return out;
}

bool meets_minimum(const ScryptParams& p) {
  return p.n >= kMinScrypt.n && p.r >= kMinScrypt.r && p.p >= kMinScrypt.p;
}

void wipe(void* data, size_t size) {
  if (size) OPENSSL_cleanse(data, size);
}

Key32 derive_password_key(std::string_view password, ByteSpan salt, const ScryptParams& p) {
  Key32 out;
  // maxmem: N * r * 128 bytes plus slack.
  uint64_t maxmem = p.n * p.r * 128 * 2 + (1 << 20);
  if (!EVP_PBE_scrypt(password.data(), password.size(), salt.data(), salt.size(), p.n, p.r, p.p,
                      maxmem, out.data(), out.size()))
    throw Error(Errc::kCorrupt, "invalid scrypt parameters in key slot");
  return out;
}

Key32 hkdf_sha256(ByteSpan ikm, ByteSpan salt, ByteSpan info) {
  static EVP_KDF* kdf = EVP_KDF_fetch(nullptr, "HKDF", nullptr);
  if (!kdf) throw Error(Errc::kInternal, "OpenSSL has no HKDF");
  // One context per thread (a fetch per call costs more than the derivation).
  struct KdfCtxDeleter {
    void operator()(EVP_KDF_CTX* c) const { EVP_KDF_CTX_free(c); }
  };
  thread_local std::unique_ptr<EVP_KDF_CTX, KdfCtxDeleter> ctx(EVP_KDF_CTX_new(kdf));
  if (!ctx) crypto_fail("HKDF context");
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_octet_string(
                             OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(ikm.data()), ikm.size()),
                         OSSL_PARAM_construct_octet_string(
                             OSSL_KDF_PARAM_SALT, const_cast<uint8_t*>(salt.data()), salt.size()),
                         OSSL_PARAM_construct_octet_string(
                             OSSL_KDF_PARAM_INFO, const_cast<uint8_t*>(info.data()), info.size()),
                         OSSL_PARAM_construct_end()};
  Key32 out;
  bool ok = EVP_KDF_derive(ctx.get(), out.data(), out.size(), params) == 1;
  // The context keeps a copy of the input key until reset (a data key or a shared secret).
  EVP_KDF_CTX_reset(ctx.get());
  if (!ok) crypto_fail("HKDF");
  return out;
}

namespace {
struct PkeyDeleter {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;
struct PkeyCtxDeleter {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
using PkeyCtx = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxDeleter>;

Pkey x25519_private_pkey(const Key32& priv) {
  Pkey k(EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv.data(), priv.size()));
  if (!k) crypto_fail("X25519 private key");
  return k;
}
}  // namespace

X25519Pair x25519_generate() {
  X25519Pair p;
  random_fill(p.priv);
  p.pub = x25519_public(p.priv);
  return p;
}

Key32 x25519_public(const Key32& priv) {
  Pkey k = x25519_private_pkey(priv);
  Key32 pub;
  size_t len = pub.size();
  if (EVP_PKEY_get_raw_public_key(k.get(), pub.data(), &len) != 1 || len != pub.size())
    crypto_fail("X25519 public key");
  return pub;
}

Key32 x25519(const Key32& priv, const Key32& peer_pub) {
  Pkey mine = x25519_private_pkey(priv);
  Pkey peer(
      EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, peer_pub.data(), peer_pub.size()));
  if (!peer) throw Error(Errc::kCorrupt, "invalid X25519 public key");
  PkeyCtx ctx(EVP_PKEY_CTX_new(mine.get(), nullptr));
  Key32 out;
  size_t len = out.size();
  if (!ctx || EVP_PKEY_derive_init(ctx.get()) != 1 ||
      EVP_PKEY_derive_set_peer(ctx.get(), peer.get()) != 1 ||
      EVP_PKEY_derive(ctx.get(), out.data(), &len) != 1 || len != out.size())
    throw Error(Errc::kCorrupt, "X25519 key agreement failed (invalid public key)");
  if (constant_time_equal(out, Key32{})) throw Error(Errc::kCorrupt, "low-order X25519 key");
  return out;
}

namespace {
Key32 sealing_key(const Key32& shared, const Key32& eph_pub, const Key32& pub, ByteSpan aad) {
  Bytes salt(eph_pub.begin(), eph_pub.end());
  salt.insert(salt.end(), pub.begin(), pub.end());
  std::string label = "strongroom seal to public";
  Bytes info(label.begin(), label.end());
  info.insert(info.end(), aad.begin(), aad.end());
  return hkdf_sha256(shared, salt, info);
}
}  // namespace

Bytes seal_to_public(const Key32& pub, ByteSpan plaintext, ByteSpan aad) {
  X25519Pair eph = x25519_generate();
  Key32 shared = x25519(eph.priv, pub);
  Key32 key = sealing_key(shared, eph.pub, pub, aad);
  wipe(shared);
  Bytes out(eph.pub.begin(), eph.pub.end());
  seal_append(key, plaintext, aad, out);
  wipe(key);
  return out;
}

Bytes open_with_private(const Key32& priv, ByteSpan sealed, ByteSpan aad, const char* what) {
  if (sealed.size() < kSealToPublicOverhead)
    throw Error(Errc::kCorrupt, std::string(what) + " is damaged: too short");
  Key32 eph_pub;
  std::memcpy(eph_pub.data(), sealed.data(), 32);
  Key32 shared = x25519(priv, eph_pub);
  Key32 key = sealing_key(shared, eph_pub, x25519_public(priv), aad);
  wipe(shared);
  Bytes out;
  try {
    open_into(key, sealed.subspan(32), aad, out, what);
  } catch (...) {
    wipe(key);
    throw;
  }
  wipe(key);
  return out;
}

Key32 random_key() {
  Key32 k;
  random_fill(k);
  return k;
}

bool constant_time_equal(ByteSpan a, ByteSpan b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

}  // namespace sr::codec

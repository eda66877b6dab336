// codec/crypto.h: the cryptographic primitives of the repository format, over OpenSSL 3.
//
//  - keyed_id: HMAC-SHA-256 under the repository's id key (chunk IDs reveal no plaintext hash);
//    OpenSSL uses the CPU's SHA extensions where present.
//  - seal/open: AES-256-GCM with a fresh random 96-bit nonce; output is nonce || ciphertext || tag.
//    Associated data binds a ciphertext to its context (chunk ID, object name), so a blob moved
//    to another place fails authentication. open throws Errc::kCorrupt on any mismatch.
//  - derive_password_key: scrypt (parameters stored with each key slot). kMinScrypt is the
//    least cost a key slot may have: weaker slots are neither written nor opened.
//  - hkdf_sha256: HKDF (RFC 5869) with SHA-256, through OpenSSL 3's EVP_KDF "HKDF": derives the
//    per-object keys of packs and WAL objects (no ciphertext under the long-lived key, so no
//    random-nonce budget on it).
//  - X25519 (RFC 7748): key pairs and the shared secret; seal_to_public / open_with_private seal
//    a small secret to a public key (ephemeral X25519, HKDF-SHA-256, AES-256-GCM).
//  - wipe: erases key material in a way the compiler cannot drop (OPENSSL_cleanse); a Key32 that
//    held a secret is wiped when it is released.
// All functions are thread-safe.
#pragma once

#include <array>
#include <initializer_list>

#include "base/bytes.h"

namespace sr::codec {

using Key32 = std::array<uint8_t, 32>;
using ChunkId = std::array<uint8_t, 32>;

constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr size_t kSealOverhead = kNonceSize + kTagSize;

ChunkId keyed_id(const Key32& key, ByteSpan data);
Key32 hmac_sha256(const Key32& key, ByteSpan data);
// HMAC-SHA-256 of the concatenation of `parts`, without copying them together.
Key32 hmac_sha256(const Key32& key, std::initializer_list<ByteSpan> parts);
Key32 sha256(ByteSpan data);

// Appends nonce || ciphertext || tag to `out`.
void seal_append(const Key32& key, ByteSpan plaintext, ByteSpan aad, Bytes& out);
Bytes seal(const Key32& key, ByteSpan plaintext, ByteSpan aad);
// Seals in place: `region` is nonce space (kNonceSize) | plaintext | tag space (kTagSize); the
// nonce is chosen, the plaintext encrypted where it is, and the tag written after it.
void seal_region(const Key32& key, ByteSpan aad, std::span<uint8_t> region);
// Decrypts nonce || ciphertext || tag into `out` (resized). `what` names the object in errors.
void open_into(const Key32& key, ByteSpan sealed, ByteSpan aad, Bytes& out, const char* what);
// The same into `out`, which must be exactly the plaintext's size (sealed.size() -
// kSealOverhead; Errc::kCorrupt otherwise): no intermediate buffer. On failure `out` is zeroed,
// so unauthenticated plaintext is never left behind.
void open_to(const Key32& key, ByteSpan sealed, ByteSpan aad, std::span<uint8_t> out,
             const char* what);
Bytes open(const Key32& key, ByteSpan sealed, ByteSpan aad, const char* what);

struct ScryptParams {
  uint64_t n = 1 << 15;
  uint64_t r = 8;
  uint64_t p = 1;
};
// The minimum scrypt cost (N >= 2^10, r >= 8, p >= 1: at least 1 MiB of memory per guess).
// The default above is 32 times that; the floor is what unit tests use to stay fast.
constexpr ScryptParams kMinScrypt{1 << 10, 8, 1};
bool meets_minimum(const ScryptParams& params);
Key32 derive_password_key(std::string_view password, ByteSpan salt, const ScryptParams& params);

// Overwrites `size` bytes at `data` with zeros; never optimised away.
void wipe(void* data, size_t size);
inline void wipe(Key32& key) { wipe(key.data(), key.size()); }
inline void wipe(Bytes& bytes) { wipe(bytes.data(), bytes.size()); }
inline void wipe(std::string& text) { wipe(text.data(), text.size()); }

// HKDF-SHA-256 (extract and expand) to 32 bytes.
Key32 hkdf_sha256(ByteSpan ikm, ByteSpan salt, ByteSpan info);

struct X25519Pair {
  Key32 priv{}, pub{};
  ~X25519Pair() { wipe(priv); }
};
X25519Pair x25519_generate();
Key32 x25519_public(const Key32& priv);
// The shared secret X25519(priv, peer); throws kCorrupt for a low-order peer key (all-zero
// result).
Key32 x25519(const Key32& priv, const Key32& peer_pub);

// Seals `plaintext` to `pub`: ephemeral public key (32) || seal(HKDF(X25519(eph, pub), salt =
// eph_pub || pub, info = "strongroom seal to public" || aad), plaintext, aad).
Bytes seal_to_public(const Key32& pub, ByteSpan plaintext, ByteSpan aad);
// Opens what seal_to_public made for the key pair (priv, its public key). Throws kCorrupt.
Bytes open_with_private(const Key32& priv, ByteSpan sealed, ByteSpan aad, const char* what);
constexpr size_t kSealToPublicOverhead = 32 + kSealOverhead;

Key32 random_key();
bool constant_time_equal(ByteSpan a, ByteSpan b);

}  // namespace sr::codec

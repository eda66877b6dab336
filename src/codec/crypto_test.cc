#include "codec/crypto.h"

#include <gtest/gtest.h>

#include "codec/compress.h"

namespace sr::codec {
namespace {

TEST(Crypto, SealOpenRoundTrip) {
  Key32 k = random_key();
  Bytes msg(100000, 'x');
  Bytes sealed = seal(k, msg, as_bytes("aad"));
  EXPECT_EQ(sealed.size(), msg.size() + kSealOverhead);
  EXPECT_EQ(open(k, sealed, as_bytes("aad"), "test"), msg);
}

TEST(Crypto, WrongKeyFailsAuthentication) {
  Key32 k = random_key(), other = random_key();
  Bytes sealed = seal(k, as_bytes("secret ledger"), {});
  try {
    open(other, sealed, {}, "object");
    FAIL() << "opened with the wrong key";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("failed authentication"), std::string::npos);
  }
}

TEST(Crypto, WrongAssociatedDataOrFlippedBitFails) {
  Key32 k = random_key();
  Bytes sealed = seal(k, as_bytes("payload"), as_bytes("chunk-a"));
  EXPECT_THROW(open(k, sealed, as_bytes("chunk-b"), "x"), Error);
  for (size_t i = 0; i < sealed.size(); ++i) {
    Bytes bad = sealed;
    bad[i] ^= 0x01;
    EXPECT_THROW(open(k, bad, as_bytes("chunk-a"), "x"), Error) << "byte " << i;
  }
  EXPECT_THROW(open(k, ByteSpan(sealed).first(10), as_bytes("chunk-a"), "x"), Error);
}

TEST(Crypto, OpenToDecryptsInPlaceAndZeroesOnFailure) {
  Key32 k = random_key();
  Bytes msg(5000, 'm');
  Bytes sealed = seal(k, msg, as_bytes("aad"));
  Bytes out(msg.size(), 0);
  open_to(k, sealed, as_bytes("aad"), out, "obj");
  EXPECT_EQ(out, msg);
  Bytes small(msg.size() - 1, 0);  // the wrong size is refused before anything is decrypted
  EXPECT_THROW(open_to(k, sealed, as_bytes("aad"), small, "obj"), Error);
  sealed[kNonceSize + 10] ^= 1;  // damaged: the unauthenticated plaintext is not left behind
  Bytes dst(msg.size(), 0xAB);
  try {
    open_to(k, sealed, as_bytes("aad"), dst, "obj");
    FAIL() << "opened a damaged object";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
  }
  EXPECT_EQ(dst, Bytes(msg.size(), 0));
}

TEST(Crypto, NoncesAreFresh) {
  Key32 k = random_key();
  EXPECT_NE(seal(k, as_bytes("same"), {}), seal(k, as_bytes("same"), {}));
}

TEST(Crypto, KeyedIdDependsOnKey) {
  Key32 a = random_key(), b = random_key();
  EXPECT_EQ(keyed_id(a, as_bytes("data")), keyed_id(a, as_bytes("data")));
  EXPECT_NE(keyed_id(a, as_bytes("data")), keyed_id(b, as_bytes("data")));
  // Not the plain SHA-256 of the data.
  EXPECT_NE(keyed_id(a, as_bytes("data")), sha256(as_bytes("data")));
}

TEST(Crypto, HmacMatchesRfc4231Case2Shape) {
  // RFC 4231 test case 2 uses a 4-byte key; our API takes 32-byte keys, so check the 32-byte
  // zero-padded equivalent (HMAC pads keys with zeros to the block size).
  Key32 k{};
  std::memcpy(k.data(), "Jefe", 4);
  Key32 mac = hmac_sha256(k, as_bytes("what do ya want for nothing?"));
  EXPECT_EQ(to_hex(mac), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Crypto, ScryptIsDeterministicPerSalt) {
  ScryptParams p{1024, 8, 1};
  Bytes salt(32, 1), salt2(32, 2);
  EXPECT_EQ(derive_password_key("pw", salt, p), derive_password_key("pw", salt, p));
  EXPECT_NE(derive_password_key("pw", salt, p), derive_password_key("pw", salt2, p));
  EXPECT_NE(derive_password_key("pw", salt, p), derive_password_key("pw2", salt, p));
}

TEST(Compress, RoundTripAndIncompressible) {
  Bytes text;
  for (int i = 0; i < 10000; ++i) {
    std::string line = "account " + std::to_string(i) + " balance 100\n";
    text.insert(text.end(), line.begin(), line.end());
  }
  Bytes out;
  ASSERT_TRUE(compress(text, 3, out));
  Bytes back;
  decompress(out, text.size(), back, "t");
  EXPECT_EQ(back, text);
  Bytes noise(1 << 16);
  for (size_t i = 0; i < noise.size(); ++i)
    noise[i] = static_cast<uint8_t>((i * 2654435761u) >> 13);
  Key32 k = random_key();
  Bytes random = seal(k, noise, {});  // ciphertext is incompressible
  EXPECT_FALSE(compress(random, 3, out));
  EXPECT_THROW(decompress(random, 100, back, "t"), Error);
}

TEST(Compress, SplitFramesDecompressAsOne) {
  // 10 MiB of text: more than one part (>= 4 MiB each), a frame per part.
  Bytes text;
  for (uint64_t i = 0; text.size() < (10u << 20); ++i) {
    std::string line = "wal record " + std::to_string(i * 7919 % 100003) + " payload\n";
    text.insert(text.end(), line.begin(), line.end());
  }
  size_t cap = compress_split_bound(text.size());
  Bytes out(cap);
  auto n = compress_split(text, 1, out.data(), cap);
  ASSERT_TRUE(n.has_value());
  EXPECT_LT(*n, text.size() / 2);
  Bytes back;
  decompress(ByteSpan(out).first(*n), text.size(), back, "t");
  EXPECT_EQ(back, text);
  // Random data is reported as not worth compressing.
  Bytes noise = seal(random_key(), text, {});
  Bytes out2(compress_split_bound(noise.size()));
  EXPECT_FALSE(compress_split(noise, 1, out2.data(), out2.size()).has_value());
}

TEST(Crypto, SealRegionMatchesOpen) {
  Key32 k = random_key();
  Bytes msg(5000, 'm');
  Bytes region(kNonceSize + msg.size() + kTagSize);
  std::copy(msg.begin(), msg.end(), region.begin() + kNonceSize);
  seal_region(k, as_bytes("aad"), region);
  EXPECT_EQ(open(k, region, as_bytes("aad"), "t"), msg);
  EXPECT_THROW(open(k, region, as_bytes("other"), "t"), Error);
}

Bytes as_bytes_copy(std::string_view s) { return Bytes(s.begin(), s.end()); }

Key32 key_hex(std::string_view hex) {
  Bytes b = from_hex(hex);
  Key32 k;
  std::copy(b.begin(), b.end(), k.begin());
  return k;
}

TEST(Crypto, HmacOfPartsEqualsHmacOfTheirConcatenation) {
  Key32 k = random_key();
  Bytes a = as_bytes_copy("strongroom "), b = as_bytes_copy("wal tag");
  Bytes ab = a;
  ab.insert(ab.end(), b.begin(), b.end());
  EXPECT_EQ(hmac_sha256(k, {a, ByteSpan(), b}), hmac_sha256(k, ab));
  EXPECT_NE(hmac_sha256(k, {b, a}), hmac_sha256(k, ab));
}

TEST(Crypto, HkdfMatchesRfc5869TestCase1) {
  Bytes ikm(22, 0x0b);
  Bytes salt = from_hex("000102030405060708090a0b0c");
  Bytes info = from_hex("f0f1f2f3f4f5f6f7f8f9");
  EXPECT_EQ(to_hex(hkdf_sha256(ikm, salt, info)),
            "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf");
  EXPECT_NE(hkdf_sha256(ikm, salt, as_bytes("other")), hkdf_sha256(ikm, salt, info));
}

TEST(Crypto, X25519MatchesRfc7748) {
  Key32 alice = key_hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
  Key32 bob_pub = key_hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
  EXPECT_EQ(to_hex(x25519_public(alice)),
            "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
  EXPECT_EQ(to_hex(x25519(alice, bob_pub)),
            "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
  EXPECT_THROW(x25519(alice, Key32{}), Error);  // a low-order point gives an all-zero secret
}

TEST(Crypto, SealToPublicOpensOnlyWithThePrivateKeyAndAad) {
  X25519Pair pair = x25519_generate(), other = x25519_generate();
  Bytes sealed = seal_to_public(pair.pub, as_bytes("ring key"), as_bytes("aad"));
  EXPECT_EQ(sealed.size(), 8 + kSealToPublicOverhead);
  EXPECT_EQ(to_hex(open_with_private(pair.priv, sealed, as_bytes("aad"), "t")),
            to_hex(as_bytes("ring key")));
  EXPECT_THROW(open_with_private(other.priv, sealed, as_bytes("aad"), "t"), Error);
  EXPECT_THROW(open_with_private(pair.priv, sealed, as_bytes("dda"), "t"), Error);
  sealed[3] ^= 1;  // the ephemeral public key
  EXPECT_THROW(open_with_private(pair.priv, sealed, as_bytes("aad"), "t"), Error);
}

}  // namespace
}  // namespace sr::codec

// repo/envelope.h: how every metadata object (config, index, manifest, lock, mark, pg info) is
// stored.
//
//   generation 0:  "SRE1" | kind (1 byte) | nonce (12) | AES-256-GCM(meta_key, zstd(payload)) | tag
//   generation n:  "SRE2" | kind (1 byte) | u32 LE n | nonce | AES-256-GCM(meta_key n, …) | tag
// The associated data is the header (5 or 9 bytes) followed by the object's storage key, so an
// object copied or renamed to another key fails authentication instead of being misread.
// Writers seal under the newest key generation (generation 0 keeps the version 1 form, which
// older readers still read); readers pick the generation the header names. Envelopes keep
// random nonces under the long-lived meta key: docs/FORMAT.md ("Nonce budget") counts why that
// stays far below the 2^32 limit.
#pragma once

#include <string>

#include "base/bytes.h"
#include "codec/crypto.h"
#include "repo/keys.h"

namespace sr::repo {

enum class EnvelopeKind : uint8_t {
  kConfig = 1,
  kIndex = 2,
  kManifest = 3,
  kLock = 4,
  kPgInfo = 5,
  kMark = 6,
  kHold = 7,
  kDeletion = 8,
  kPrunePlan = 9,
  kRestoreTest = 10
};

Bytes seal_envelope(const KeySet& keys, EnvelopeKind kind, const std::string& object_key,
                    ByteSpan payload);
// Throws kCorrupt naming object_key when the bytes are not a valid envelope of that kind (or
// name a key generation `keys` does not have).
Bytes open_envelope(const KeySet& keys, EnvelopeKind kind, const std::string& object_key,
                    ByteSpan stored);

}  // namespace sr::repo

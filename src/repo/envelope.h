// repo/envelope.h: how every metadata object (config, index, manifest, lock) is stored.
//
//   "SRE1" | kind (1 byte) | nonce (12) | AES-256-GCM(meta_key, zstd(payload)) | tag (16)
// The associated data is the header (5 bytes) followed by the object's storage key, so an object
// copied or renamed to another key fails authentication instead of being misread.
#pragma once

#include <string>

#include "base/bytes.h"
#include "codec/crypto.h"

namespace sr::repo {

enum class EnvelopeKind : uint8_t {
  kConfig = 1,
  kIndex = 2,
  kManifest = 3,
  kLock = 4,
  kPgInfo = 5,
  kMark = 6
};

Bytes seal_envelope(const codec::Key32& meta_key, EnvelopeKind kind, const std::string& object_key,
                    ByteSpan payload);
// Throws kCorrupt naming object_key when the bytes are not a valid envelope of that kind.
Bytes open_envelope(const codec::Key32& meta_key, EnvelopeKind kind, const std::string& object_key,
                    ByteSpan stored);

}  // namespace sr::repo

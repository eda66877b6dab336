// storage/digest.h: the hashes the object-store signers and integrity checks need.
//
// SHA-256 of memory and of a file range (streamed, so a multi-GiB file never sits in memory),
// HMAC-SHA-256 with a key of any length (Azure account keys are 64 bytes, SigV4 chains 32-byte
// keys from a text secret), and MD5 for Azure's Content-MD5. Stateless and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "base/bytes.h"

namespace sr::storage {

Bytes sha256_bytes(ByteSpan data);
std::string sha256_hex(ByteSpan data);
// SHA-256 of [offset, offset+length) of a local file, read in 1 MiB steps.
std::string sha256_file_hex(const std::string& path, uint64_t offset, uint64_t length);
Bytes hmac_sha256_bytes(ByteSpan key, ByteSpan message);

}  // namespace sr::storage

// base/random.h: cryptographically secure random bytes (OpenSSL RAND_bytes).
#pragma once

#include <string>

#include "base/bytes.h"

namespace sr {

void random_fill(std::span<uint8_t> out);
Bytes random_bytes(size_t n);
std::string random_hex(size_t nbytes);

}  // namespace sr

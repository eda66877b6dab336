#include "base/random.h"

#include <openssl/rand.h>

namespace sr {

void random_fill(std::span<uint8_t> out) {
  if (out.empty()) return;
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1)
    throw Error(Errc::kInternal, "the system random number generator failed");
}

Bytes random_bytes(size_t n) {
  Bytes b(n);
  random_fill(b);
  return b;
}

std::string random_hex(size_t nbytes) { return to_hex(random_bytes(nbytes)); }

}  // namespace sr

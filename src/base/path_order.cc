#include "base/path_order.h"

#include <algorithm>

namespace sr {

bool path_less(std::string_view a, std::string_view b) {
  size_t n = std::min(a.size(), b.size());
  for (size_t i = 0; i < n; ++i) {
    unsigned char ca = static_cast<unsigned char>(a[i]), cb = static_cast<unsigned char>(b[i]);
    if (ca == cb) continue;
    if (ca == '/') return true;  // the separator sorts before every name byte
    if (cb == '/') return false;
    return ca < cb;
  }
  return a.size() < b.size();
}

}  // namespace sr

#include "base/error.h"

#include <cerrno>
#include <cstring>

namespace sr {

void throw_errno(const std::string& what) { throw_errno(what, errno); }

void throw_errno(const std::string& what, int err) {
  throw Error(Errc::kIo, what + ": " + std::strerror(err));
}

int exit_code_for(Errc code) {
  switch (code) {
    case Errc::kUsage:
      return 2;
    case Errc::kVerifyFailed:
      return 3;
    case Errc::kCorrupt:
      return 3;
    case Errc::kAuth:
      return 4;
    case Errc::kLocked:
      return 5;
    case Errc::kNotFound:
      return 6;
    case Errc::kCommandFailed:
      return 7;
    case Errc::kCancelled:
      return 130;  // as a shell reports a command stopped by SIGINT
    default:
      return 1;
  }
}

}  // namespace sr

// base/error.h: the one error type of strongroom.
//
// Every failure is an sr::Error carrying a code (which decides the exit code and whether a
// storage operation may be retried) and a message meant for a person: what failed and what to
// do. Errors are thrown and caught at the edges (main, worker pools that hand them back to their
// owner); see docs/decisions/0001-errors-as-exceptions.md for why exceptions and not Result<T>.
// Messages must never contain secrets (passwords, keys, signatures).
#pragma once

#include <stdexcept>
#include <string>

namespace sr {

enum class Errc {
  kUsage,          // bad command line or option values
  kNotFound,       // a backup, object or file that was asked for does not exist
  kAlreadyExists,  // e.g. init on an existing repository, put-if-absent on a present key
  kCorrupt,        // stored bytes failed to parse or authenticate
  kAuth,           // wrong password / no key slot opens
  kLocked,         // a conflicting lock is held
  kIo,             // local I/O failed
  kTransient,      // may succeed if retried (network, throttling)
  kPermanent,      // remote refused, will not succeed if retried
  kUnsupported,
  kCancelled,
  kCommandFailed,     // a command source exited non-zero
  kSourceUnreadable,  // a file being backed up could not be read (skipped with a warning)
  kVerifyFailed,      // verify found problems
  kInternal,
};

class Error : public std::runtime_error {
 public:
  Error(Errc code, const std::string& message) : std::runtime_error(message), code_(code) {}
  Errc code() const { return code_; }

 private:
  Errc code_;
};

// Throws Error{kIo} with "<what>: <strerror(errno)>".
[[noreturn]] void throw_errno(const std::string& what);
[[noreturn]] void throw_errno(const std::string& what, int err);

// Process exit code for an error code (documented in docs/user-guide.md).
int exit_code_for(Errc code);

}  // namespace sr

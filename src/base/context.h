// base/context.h: what every operation is handed besides its options: a cancellation token, a
// progress sink and a logger (OpContext).
//
// Operations (ops/) take `const OpContext&`; the CLI builds one per command, the daemon one per
// job. Long operations call ctx.check_cancelled() at chunk granularity; it throws
// Error{kCancelled}, which unwinds through the same paths as any other error, so a cancelled
// operation leaves the repository as a failed one does: valid, with no manifest published.
// Every member may be absent: a default OpContext never cancels, counts nothing, logs nothing.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>

#include "base/log.h"

namespace sr {

// Thread-safe: cancel() from any thread (a signal handler must not call it: set a flag and let
// a thread forward it). Waiters in wait_for wake at once.
class CancelToken {
 public:
  void cancel();
  bool cancelled() const { return cancelled_.load(std::memory_order_relaxed); }
  // Sleeps up to `seconds`; returns true when cancelled (at once if it already was).
  bool wait_for(double seconds) const;

 private:
  std::atomic<bool> cancelled_{false};
  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
};

// Progress of one operation, read by a progress line or an HTTP status while it runs.
struct Counters {
  std::atomic<uint64_t> bytes{0}, files{0}, total_bytes{0}, total_files{0};
  std::atomic<bool> total_known{false};
};

struct OpContext {
  const CancelToken* cancel = nullptr;
  Counters* progress = nullptr;
  log::Logger* logger = nullptr;

  bool cancelled() const { return cancel && cancel->cancelled(); }
  // Throws Error{kCancelled, "<what> cancelled"} when the token was cancelled.
  void check_cancelled(const char* what = "operation") const;
  log::Logger& log() const { return logger ? *logger : log::null_logger(); }
};

}  // namespace sr

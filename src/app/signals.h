// app/signals.h: SIGINT and SIGTERM as cancellation.
//
// While a StopSignals lives, the first SIGINT/SIGTERM sets a flag (all a signal handler may do)
// and a watcher thread turns it into token.cancel(), so the running operation stops at its next
// chunk and leaves the repository valid; a second signal restores the default action and kills
// the process at once. Handlers are process-wide: one StopSignals at a time. Child processes are
// unaffected (handlers reset on exec; no signal mask is changed).
#pragma once

#include <atomic>
#include <thread>

#include "base/context.h"

namespace sr::app {

class StopSignals {
 public:
  explicit StopSignals(CancelToken& token);
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  CancelToken& token_;
  std::atomic<bool> done_{false};
  std::thread watcher_;
};

}  // namespace sr::app

#include "app/signals.h"

#include <signal.h>

#include <chrono>

namespace sr::app {
namespace {

volatile sig_atomic_t g_signalled = 0;

extern "C" void on_stop_signal(int sig) {
  if (g_signalled) {
    ::signal(sig, SIG_DFL);
    ::raise(sig);
    return;
  }
  g_signalled = 1;
}

void set_handler(void (*handler)(int)) {
  struct sigaction sa = {};
  sa.sa_handler = handler;
  ::sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);
}

}  // namespace

StopSignals::StopSignals(CancelToken& token) : token_(token) {
  g_signalled = 0;
  set_handler(on_stop_signal);
  watcher_ = std::thread([this] {
    while (!done_.load()) {
      if (g_signalled) {
        token_.cancel();
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
}

StopSignals::~StopSignals() {
  done_ = true;
  watcher_.join();
  set_handler(SIG_DFL);
}

}  // namespace sr::app

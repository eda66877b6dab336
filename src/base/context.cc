#include "base/context.h"

#include "base/error.h"

namespace sr {

void CancelToken::cancel() {
  {
    std::lock_guard lock(mu_);
    cancelled_.store(true);
  }
  cv_.notify_all();
}

bool CancelToken::wait_for(double seconds) const {
  std::unique_lock lock(mu_);
  return cv_.wait_for(lock, std::chrono::duration<double>(seconds),
                      [&] { return cancelled_.load(); });
}

void OpContext::check_cancelled(const char* what) const {
  if (cancelled()) throw Error(Errc::kCancelled, std::string(what) + " cancelled");
}

}  // namespace sr

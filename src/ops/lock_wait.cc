#include "ops/lock_wait.h"

#include <chrono>
#include <thread>

#include "base/time_util.h"

namespace sr::ops {

std::unique_ptr<repo::RepoLock> acquire_waiting(repo::Repository& repo,
                                                const std::string& operation, bool exclusive,
                                                int wait_seconds, const OpContext& ctx) {
  const double deadline = monotonic_seconds() + wait_seconds;
  bool said = false;
  for (;;) {
    try {
      return repo::RepoLock::acquire(repo, operation, exclusive, &ctx.log());
    } catch (const Error& e) {
      if (e.code() != Errc::kLocked || monotonic_seconds() >= deadline) throw;
      if (!said) ctx.log().info(operation, std::string("waiting for the lock: ") + e.what());
      said = true;
    }
    for (int i = 0; i < 20; ++i) {  // 2 s, cancellable
      ctx.check_cancelled();
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

}  // namespace sr::ops

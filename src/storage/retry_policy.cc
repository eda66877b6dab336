#include "storage/retry_policy.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>

#include "base/error.h"

namespace sr::storage {

RetryPolicy RetryPolicy::from_env() {
  RetryPolicy p;
  if (const char* v = std::getenv("STRONGROOM_RETRY_SECONDS"); v && *v) {
    char* end = nullptr;
    double s = std::strtod(v, &end);
    if (*end != '\0' || s < 0)
      throw Error(Errc::kUsage, std::string("STRONGROOM_RETRY_SECONDS must be a number of seconds, "
                                            "got '") +
                                    v + "'");
    p.budget_seconds = s;
  }
  return p;
}

std::optional<double> RetryPolicy::next_delay(int attempts, double elapsed,
                                              std::mt19937_64& rng) const {
  if (attempts < 1) attempts = 1;
  double cap = std::min(max_delay, initial_delay * std::ldexp(1.0, std::min(attempts - 1, 30)));
  double delay = std::uniform_real_distribution<double>(0.0, cap)(rng);
  if (elapsed + delay > budget_seconds) return std::nullopt;
  return delay;
}

bool RetryPolicy::retryable_status(long status) {
  return status >= 500 || status == 408 || status == 429;
}

}  // namespace sr::storage

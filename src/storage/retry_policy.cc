#include "storage/retry_policy.h"

#include <algorithm>
#include <cmath>

namespace sr::storage {

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

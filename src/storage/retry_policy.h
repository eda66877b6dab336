// storage/retry_policy.h: when and how long to wait before retrying a remote request.
//
// Exponential backoff with full jitter (the delay before attempt n+1 is uniform in
// [0, min(max_delay, initial_delay * 2^(n-1))]), bounded by a total time budget: no retry starts
// once the elapsed time plus the next delay would exceed it. What is worth retrying is decided
// here too, so every backend agrees: 5xx (500, 502, 503 SlowDown, 504…), 408 and 429; never any
// other 4xx (a 403 stays a 403, however often it is asked). Transport failures (refused, reset,
// timed out) are classified by the HTTP client. Immutable after construction; thread-safe.
#pragma once

#include <optional>
#include <random>

namespace sr::storage {

struct RetryPolicy {
  double budget_seconds = 120;  // total time across all attempts (0 disables retries)
  double initial_delay = 0.1;
  double max_delay = 10;

  // Delay before the next attempt after `attempts` failed ones and `elapsed` seconds, or nullopt
  // when the budget is spent.
  std::optional<double> next_delay(int attempts, double elapsed, std::mt19937_64& rng) const;

  static bool retryable_status(long status);
};

}  // namespace sr::storage

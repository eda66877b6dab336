#include "base/time_util.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "base/error.h"

namespace sr {

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string format_rfc3339(int64_t unix_ns) {
  time_t secs = static_cast<time_t>(unix_ns / 1000000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

int64_t parse_rfc3339(const std::string& text) {
  struct tm tm = {};
  int y, mo, d, h, mi, s;
  char z = 0;
  if (std::sscanf(text.c_str(), "%d-%d-%dT%d:%d:%d%c", &y, &mo, &d, &h, &mi, &s, &z) < 6)
    throw Error(Errc::kUsage, "invalid time '" + text + "' (expected 2026-01-31T12:00:00Z)");
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return static_cast<int64_t>(timegm(&tm)) * 1000000000;
}

double monotonic_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

bool sleep_for(std::stop_token stop, std::chrono::milliseconds d) {
  // The mutex only exists to wait on; the stop token is what wakes us early.
  std::mutex m;
  std::condition_variable_any cv;
  std::unique_lock lock(m);  // cppcheck-suppress localMutex
  cv.wait_for(lock, stop, d, [] { return false; });
  return !stop.stop_requested();
}

}  // namespace sr

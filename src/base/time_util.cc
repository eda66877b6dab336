#include "base/time_util.h"

#include <cctype>
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
  // YYYY-MM-DD[T| ]HH:MM:SS[.fraction][Z|+HH[:MM]|-HH[:MM]] (no zone: UTC)
  struct tm tm = {};
  int y, mo, d, h, mi, s, used = 0;
  auto bad = [&] {
    return Error(Errc::kUsage, "invalid time '" + text + "' (expected e.g. 2026-01-31T12:00:00Z)");
  };
  if (std::sscanf(text.c_str(), "%4d-%2d-%2d%*1[T ]%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &s,
                  &used) < 6 ||
      mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60)
    throw bad();
  size_t pos = static_cast<size_t>(used);
  int64_t frac_ns = 0;
  if (pos < text.size() && text[pos] == '.') {
    int64_t scale = 100000000;
    ++pos;
    if (pos >= text.size() || !std::isdigit(static_cast<unsigned char>(text[pos]))) throw bad();
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      frac_ns += (text[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
  }
  int64_t offset_s = 0;
  if (pos < text.size()) {
    std::string zone = text.substr(pos);
    if (zone == "Z" || zone == "z") {
    } else if ((zone[0] == '+' || zone[0] == '-') && zone.size() >= 3) {
      int zh = 0, zm = 0;
      if (std::sscanf(zone.c_str() + 1, "%2d:%2d", &zh, &zm) < 1 &&
          std::sscanf(zone.c_str() + 1, "%2d%2d", &zh, &zm) < 1)
        throw bad();
      offset_s = (zh * 3600 + zm * 60) * (zone[0] == '-' ? -1 : 1);
    } else {
      throw bad();
    }
  }
  tm.tm_year = y - 1900;
  tm.tm_mon = mo - 1;
  tm.tm_mday = d;
  tm.tm_hour = h;
  tm.tm_min = mi;
  tm.tm_sec = s;
  return (static_cast<int64_t>(timegm(&tm)) - offset_s) * 1000000000 + frac_ns;
}

std::string format_pg_timestamp(int64_t unix_ns) {
  time_t secs = static_cast<time_t>(unix_ns / 1000000000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(buf + n, sizeof buf - n, ".%06d+00",
                static_cast<int>((unix_ns % 1000000000) / 1000));
  return buf;
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

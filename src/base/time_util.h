// base/time_util.h: wall-clock helpers. Times in the repository are UTC nanoseconds since epoch.
#pragma once

#include <chrono>
#include <cstdint>
#include <stop_token>
#include <string>

namespace sr {

int64_t now_ns();
std::string format_rfc3339(int64_t unix_ns);  // "2026-11-25T09:15:27Z"
// Accepts RFC 3339 and PostgreSQL's output form: a 'T' or ' ' separator, fractional seconds,
// and a zone of Z, +HH, +HH:MM or -HH:MM (none: UTC). Throws kUsage.
int64_t parse_rfc3339(const std::string& text);
// "2026-11-25 09:15:27.123456+00": what PostgreSQL reads back exactly (microseconds).
std::string format_pg_timestamp(int64_t unix_ns);
double monotonic_seconds();
// Sleeps for `d` or until a stop is requested; returns false when stopped.
bool sleep_for(std::stop_token stop, std::chrono::milliseconds d);

}  // namespace sr

// config/schedule.h: durations ("25h", "35d", "1y", "1h30m") and cron schedules ("0 2 * * *",
// evaluated in UTC), the two kinds of time a configuration file names.
//
// Durations: "0", or one or more `<integer><unit>` terms, units s, m, h, d, w, y (a year is 365
// days; no months: their length varies), e.g. "90d", "1h30m", "0s". Nothing else: no spaces, no
// fractions, no sign. parse_duration throws kUsage with a message naming the text.
//
// Cron: five fields (minute 0-59, hour 0-23, day of month 1-31, month 1-12 or jan-dec, day of
// week 0-7 or sun-sat, 7 = Sunday), each `*`, a number, a range `a-b`, a step `*/n` or `a-b/n`,
// or a comma-separated list of those; or @hourly, @daily (@midnight), @weekly, @monthly,
// @yearly (@annually). As in Vixie cron, when both day fields are restricted a day matches if
// either does. Times are UTC: a configuration means the same instants on every host.
#pragma once

#include <bitset>
#include <cstdint>
#include <string>

namespace sr::config {

// Seconds; throws Error{kUsage}.
int64_t parse_duration(const std::string& text);
// "35d", "25h", "1h30m", "0s": the shortest text that parse_duration reads back.
std::string format_duration(int64_t seconds);

class CronSchedule {
 public:
  // Throws Error{kUsage} naming the field that is wrong.
  static CronSchedule parse(const std::string& text);

  // The first minute strictly after `unix_s` (seconds since the epoch, UTC) that matches, in
  // seconds; -1 if none within 5 years (e.g. "0 0 30 2 *").
  int64_t next_after(int64_t unix_s) const;
  // Whether the minute holding `unix_s` matches.
  bool matches(int64_t unix_s) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  std::bitset<60> minute_;
  std::bitset<24> hour_;
  std::bitset<32> dom_;    // 1..31
  std::bitset<13> month_;  // 1..12
  std::bitset<7> dow_;     // 0..6, Sunday 0
  bool dom_any_ = true, dow_any_ = true;
  bool day_matches(int year, int month, int day, int weekday) const;
};

}  // namespace sr::config

#include "config/schedule.h"

#include <array>
#include <cctype>
#include <cstring>
#include <ctime>
#include <limits>
#include <vector>

#include "base/error.h"

namespace sr::config {
namespace {

constexpr int64_t kUnitSeconds[] = {1, 60, 3600, 86400, 7 * 86400, 365 * 86400};
constexpr char kUnits[] = "smhdwy";

[[noreturn]] void bad_duration(const std::string& text, const std::string& why) {
  throw Error(Errc::kUsage, "bad duration '" + text + "': " + why +
                                " (write e.g. 30s, 15m, 25h, 35d, 2w, 1y or 1h30m)");
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  size_t start = 0;
  while (true) {
    size_t p = s.find(sep, start);
    out.push_back(s.substr(start, p == std::string::npos ? std::string::npos : p - start));
    if (p == std::string::npos) return out;
    start = p + 1;
  }
}

const std::array<const char*, 12> kMonths = {"jan", "feb", "mar", "apr", "may", "jun",
                                             "jul", "aug", "sep", "oct", "nov", "dec"};
const std::array<const char*, 7> kDays = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};

struct Field {
  const char* name;
  int lo, hi;  // the values the field accepts (day of week: 0..7)
  bool months, days;
};

int field_value(const std::string& s, const Field& f, const std::string& text) {
  auto bad = [&](const std::string& why) -> int {
    throw Error(Errc::kUsage, "bad cron expression '" + text + "': " + f.name + " field: " + why);
  };
  if (s.empty()) bad("empty value");
  if (std::isalpha(static_cast<unsigned char>(s[0]))) {
    std::string lower;
    for (char c : s) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (f.months)
      for (size_t i = 0; i < kMonths.size(); ++i)
        if (lower == kMonths[i]) return static_cast<int>(i) + 1;
    if (f.days)
      for (size_t i = 0; i < kDays.size(); ++i)
        if (lower == kDays[i]) return static_cast<int>(i);
    bad("'" + s + "' is not a value");
  }
  int v = 0;
  for (char c : s) {
    if (!std::isdigit(static_cast<unsigned char>(c))) bad("'" + s + "' is not a number");
    v = v * 10 + (c - '0');
    if (v > 1000) break;
  }
  if (v < f.lo || v > f.hi)
    bad(s + " is out of range " + std::to_string(f.lo) + "-" + std::to_string(f.hi));
  return v;
}

// Sets the bits of one field; returns whether it was `*` (or `*/1`).
template <size_t N>
bool parse_field(const std::string& spec, const Field& f, const std::string& text,
                 std::bitset<N>& bits) {
  bool any = false;
  for (const std::string& part : split(spec, ',')) {
    std::string range = part;
    int step = 1;
    if (size_t slash = part.find('/'); slash != std::string::npos) {
      range = part.substr(0, slash);
      Field step_field{f.name, 1, f.hi, false, false};
      step = field_value(part.substr(slash + 1), step_field, text);
    }
    int lo, hi;
    if (range == "*") {
      lo = f.lo;
      hi = f.days ? 6 : f.hi;
      if (step == 1) any = true;
    } else if (size_t dash = range.find('-'); dash != std::string::npos) {
      lo = field_value(range.substr(0, dash), f, text);
      hi = field_value(range.substr(dash + 1), f, text);
      if (lo > hi)
        throw Error(Errc::kUsage, "bad cron expression '" + text + "': " + f.name +
                                      " field: range " + range + " runs backwards");
    } else {
      lo = hi = field_value(range, f, text);
      if (part.find('/') != std::string::npos) hi = f.days ? 6 : f.hi;  // "5/15" = 5-max/15
    }
    for (int v = lo; v <= hi; v += step) bits.set(static_cast<size_t>(f.days && v == 7 ? 0 : v));
  }
  return any;
}

int days_in_month(int year, int month) {
  static const int kDaysIn[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return month == 2 && leap ? 29 : kDaysIn[month - 1];
}

}  // namespace

int64_t parse_duration(const std::string& text) {
  if (text.empty()) bad_duration(text, "empty");
  if (text == "0") return 0;  // nothing needs no unit
  int64_t total = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i])))
      bad_duration(text, "expected a number at '" + text.substr(i) + "'");
    int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > 1'000'000'000) bad_duration(text, "too large");
      ++i;
    }
    if (i == text.size()) bad_duration(text, "a number needs a unit");
    const char* u = std::strchr(kUnits, text[i]);
    if (u == nullptr || *u == '\0')
      bad_duration(text, std::string("unknown unit '") + text[i] + "'");
    int64_t unit = kUnitSeconds[u - kUnits];
    if (n > (std::numeric_limits<int64_t>::max() / 1'000'000'000 - total) / unit)
      bad_duration(text, "too large");
    total += n * unit;
    ++i;
  }
  return total;
}

std::string format_duration(int64_t s) {
  if (s <= 0) return "0s";
  std::string out;
  // Whole days read as days ("35d"); a few days and hours as hours ("25h", as runbooks say).
  const int top = s % 86400 != 0 && s < 10 * 86400 ? 2 : 5;
  for (int u = top; u >= 0; --u) {
    if (u == 4) continue;  // weeks: days read better ("35d", not "5w")
    int64_t n = s / kUnitSeconds[u];
    if (n == 0) continue;
    out += std::to_string(n) + kUnits[u];
    s -= n * kUnitSeconds[u];
  }
  return out;
}

CronSchedule CronSchedule::parse(const std::string& text) {
  std::string spec = text;
  if (!spec.empty() && spec[0] == '@') {
    if (spec == "@hourly")
      spec = "0 * * * *";
    else if (spec == "@daily" || spec == "@midnight")
      spec = "0 0 * * *";
    else if (spec == "@weekly")
      spec = "0 0 * * 0";
    else if (spec == "@monthly")
      spec = "0 0 1 * *";
    else if (spec == "@yearly" || spec == "@annually")
      spec = "0 0 1 1 *";
    else
      throw Error(Errc::kUsage, "bad cron expression '" + text +
                                    "': unknown shorthand (use @hourly, @daily, @weekly, "
                                    "@monthly or @yearly)");
  }
  std::vector<std::string> fields;
  std::string cur;
  for (char c : spec) {
    if (c == ' ' || c == '\t') {
      if (!cur.empty()) fields.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) fields.push_back(cur);
  if (fields.size() != 5)
    throw Error(Errc::kUsage, "bad cron expression '" + text +
                                  "': expected 5 fields (minute "
                                  "hour day-of-month month day-of-week), got " +
                                  std::to_string(fields.size()));
  CronSchedule c;
  c.text_ = text;
  parse_field(fields[0], Field{"minute", 0, 59, false, false}, text, c.minute_);
  parse_field(fields[1], Field{"hour", 0, 23, false, false}, text, c.hour_);
  c.dom_any_ = parse_field(fields[2], Field{"day-of-month", 1, 31, false, false}, text, c.dom_);
  parse_field(fields[3], Field{"month", 1, 12, true, false}, text, c.month_);
  c.dow_any_ = parse_field(fields[4], Field{"day-of-week", 0, 7, false, true}, text, c.dow_);
  return c;
}

bool CronSchedule::day_matches(int year, int month, int day, int weekday) const {
  if (!month_.test(static_cast<size_t>(month))) return false;
  if (day > days_in_month(year, month)) return false;
  bool d = dom_.test(static_cast<size_t>(day)), w = dow_.test(static_cast<size_t>(weekday));
  if (dom_any_ && dow_any_) return true;
  if (dom_any_) return w;
  if (dow_any_) return d;
  return d || w;
}

bool CronSchedule::matches(int64_t unix_s) const {
  time_t t = static_cast<time_t>(unix_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  return minute_.test(static_cast<size_t>(tm.tm_min)) &&
         hour_.test(static_cast<size_t>(tm.tm_hour)) &&
         day_matches(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_wday);
}

int64_t CronSchedule::next_after(int64_t unix_s) const {
  int64_t t = unix_s - ((unix_s % 60) + 60) % 60 + 60;  // the next whole minute
  const int64_t limit = unix_s + 5 * 366 * 86400LL;
  while (t <= limit) {
    time_t tt = static_cast<time_t>(t);
    struct tm tm {};
    gmtime_r(&tt, &tm);
    if (!day_matches(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_wday)) {
      t += 86400 - (tm.tm_hour * 3600 + tm.tm_min * 60);  // the next day's midnight
      continue;
    }
    if (!hour_.test(static_cast<size_t>(tm.tm_hour))) {
      t += 3600 - tm.tm_min * 60;  // the next hour
      continue;
    }
    if (minute_.test(static_cast<size_t>(tm.tm_min))) return t;
    t += 60;
  }
  return -1;
}

}  // namespace sr::config

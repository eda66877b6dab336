#include "config/schedule.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "base/time_util.h"

namespace sr::config {
namespace {

int64_t at(const char* rfc3339) { return parse_rfc3339(rfc3339) / 1'000'000'000; }
std::string next(const char* cron, const char* after) {
  int64_t t = CronSchedule::parse(cron).next_after(at(after));
  return t < 0 ? "never" : format_rfc3339(t * 1'000'000'000);
}

TEST(Duration, ParsesUnitsAndSums) {
  EXPECT_EQ(parse_duration("30s"), 30);
  EXPECT_EQ(parse_duration("15m"), 900);
  EXPECT_EQ(parse_duration("25h"), 25 * 3600);
  EXPECT_EQ(parse_duration("35d"), 35 * 86400);
  EXPECT_EQ(parse_duration("2w"), 14 * 86400);
  EXPECT_EQ(parse_duration("1y"), 365 * 86400);
  EXPECT_EQ(parse_duration("1h30m"), 5400);
  EXPECT_EQ(parse_duration("0s"), 0);
  EXPECT_EQ(parse_duration("0"), 0);
  EXPECT_EQ(format_duration(35 * 86400), "35d");
  EXPECT_EQ(format_duration(5400), "1h30m");
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(25 * 3600), "25h");
  EXPECT_EQ(format_duration(2 * 86400), "2d");
  EXPECT_EQ(format_duration(400 * 86400 + 3600), "1y35d1h");
  for (int64_t s : {1, 59, 61, 3601, 90000, 400 * 86400 + 7, 3 * 86400 + 5})
    EXPECT_EQ(parse_duration(format_duration(s)), s) << s;
}

TEST(Duration, RefusesWhatIsNotADuration) {
  for (const char* bad :
       {"", "25", "00", "h", "1.5h", "-1h", "25 h", "1mo", "3x", "99999999999999d"}) {
    try {
      parse_duration(bad);
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kUsage);
      EXPECT_NE(std::string(e.what()).find(std::string("'") + bad + "'"), std::string::npos)
          << e.what();
    }
  }
}

TEST(Cron, NextRunOfTheRunbookSchedules) {
  EXPECT_EQ(next("0 2 * * *", "2026-12-01T01:59:59Z"), "2026-12-01T02:00:00Z");
  EXPECT_EQ(next("0 2 * * *", "2026-12-01T02:00:00Z"), "2026-12-02T02:00:00Z");  // strictly after
  EXPECT_EQ(next("0 */6 * * *", "2026-12-01T06:30:00Z"), "2026-12-01T12:00:00Z");
  EXPECT_EQ(next("0 2 * * 0", "2026-12-01T00:00:00Z"), "2026-12-06T02:00:00Z");  // a Sunday
  EXPECT_EQ(next("0 2 * * 7", "2026-12-01T00:00:00Z"), "2026-12-06T02:00:00Z");  // 7 = Sunday
  EXPECT_EQ(next("0 2 * * mon-sat", "2026-12-05T03:00:00Z"), "2026-12-07T02:00:00Z");
  EXPECT_EQ(next("0 3 1 * *", "2026-12-01T03:00:00Z"), "2027-01-01T03:00:00Z");
  EXPECT_EQ(next("30 4 1 jan *", "2026-12-01T00:00:00Z"), "2027-01-01T04:30:00Z");
  EXPECT_EQ(next("0 0 29 2 *", "2026-03-01T00:00:00Z"), "2028-02-29T00:00:00Z");
  EXPECT_EQ(next("0 0 30 2 *", "2026-03-01T00:00:00Z"), "never");
  EXPECT_EQ(next("@daily", "2026-12-31T23:59:00Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(next("5,35 * * * *", "2026-12-01T10:06:00Z"), "2026-12-01T10:35:00Z");
  EXPECT_EQ(next("10-20/5 * * * *", "2026-12-01T10:16:00Z"), "2026-12-01T10:20:00Z");
  // Both day fields restricted: either matches (the 13th, or a Friday).
  EXPECT_EQ(next("0 0 13 * fri", "2026-12-01T00:00:00Z"), "2026-12-04T00:00:00Z");
}

TEST(Cron, MatchesTheMinute) {
  auto c = CronSchedule::parse("0 2 * * *");
  EXPECT_TRUE(c.matches(at("2026-12-01T02:00:59Z")));
  EXPECT_FALSE(c.matches(at("2026-12-01T02:01:00Z")));
}

TEST(Cron, RefusesBadExpressionsNamingTheField) {
  struct Case {
    const char* text;
    const char* field;
  } cases[] = {{"0 2 * *", "expected 5 fields"},
               {"60 * * * *", "minute"},
               {"0 24 * * *", "hour"},
               {"0 0 0 * *", "day-of-month"},
               {"0 0 * 13 *", "month"},
               {"0 0 * * 8", "day-of-week"},
               {"0 0 * * funday", "day-of-week"},
               {"*/0 * * * *", "minute"},
               {"5-1 * * * *", "runs backwards"},
               {"@sometimes", "shorthand"},
               {"0 2 * * * *", "expected 5 fields"},
               {"a * * * *", "minute"},
               {"1,,2 * * * *", "minute"}};
  for (const auto& c : cases) {
    try {
      CronSchedule::parse(c.text);
      ADD_FAILURE() << "accepted '" << c.text << "'";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(c.field), std::string::npos) << e.what();
    }
  }
}

}  // namespace
}  // namespace sr::config

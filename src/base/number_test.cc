#include "base/number.h"

#include <gtest/gtest.h>

#include <cstdint>

namespace sr {
namespace {

TEST(ParseDecimal, AcceptsPlainDigits) {
  EXPECT_EQ(parse_decimal<uint64_t>("16777216", "segment size"), 16777216u);
  EXPECT_EQ(parse_decimal<int64_t>("-42", "count"), -42);
  EXPECT_EQ(parse_decimal<uint64_t>("18446744073709551615", "n"), UINT64_MAX);
}

TEST(ParseDecimal, RefusesWhatStoullAccepts) {
  for (const char* bad : {"", " 1", "1 ", "+1", "-1", "12abc", "0x10", "18446744073709551616"}) {
    try {
      parse_decimal<uint64_t>(bad, "segment size");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kIo);
      EXPECT_NE(std::string(e.what()).find("unexpected segment size"), std::string::npos);
    }
  }
}

TEST(ParseDecimal, MessageIsPrintableAndShort) {
  std::string hostile(200, 'x');
  hostile[3] = '\x1b';
  try {
    parse_decimal<int32_t>(hostile, "reply", Errc::kCorrupt);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
    std::string m = e.what();
    EXPECT_EQ(m.find('\x1b'), std::string::npos);
    EXPECT_LT(m.size(), 100u);
  }
}

}  // namespace
}  // namespace sr

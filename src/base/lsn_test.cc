#include "base/lsn.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace sr::pg {
namespace {

TEST(Lsn, ParseAndFormat) {
  EXPECT_EQ(Lsn::parse("16/B374D848").value, 0x16B374D848ull);
  EXPECT_EQ(Lsn::parse("0/0").value, 0u);
  EXPECT_EQ(Lsn{0x16B374D848ull}.str(), "16/B374D848");
  for (const char* bad : {"", "16", "/1", "1/", "G/1", "123456789/1", "1/2/3"})
    EXPECT_THROW(Lsn::parse(bad), Error) << bad;
  EXPECT_LT(Lsn::parse("1/0"), Lsn::parse("1/1"));
}

TEST(SegmentName, RoundTripsAsPostgresNamesThem) {
  SegmentName s{1, 0};
  EXPECT_EQ(s.str(), "000000010000000000000000");
  // 16 MiB segments: 256 per "log"; segment 0x1FF is log 1, seg 0xFF.
  SegmentName t{3, 0x1FF};
  EXPECT_EQ(t.str(), "0000000300000001000000FF");
  auto back = parse_segment_name("0000000300000001000000FF");
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, t);
  EXPECT_FALSE(parse_segment_name("000000030000000100000100"));  // seg beyond 0xFF
  EXPECT_FALSE(parse_segment_name("00000001000000000000000"));
  EXPECT_FALSE(parse_segment_name("000000010000000000000000.partial"));
  EXPECT_TRUE(is_history_file_name("00000002.history"));
  EXPECT_FALSE(is_history_file_name("0000000X.history"));
  EXPECT_EQ(segment_of(Lsn::parse("0/3000028")), 3u);
}

}  // namespace
}  // namespace sr::pg

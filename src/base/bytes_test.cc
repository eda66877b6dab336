#include "base/bytes.h"

#include <gtest/gtest.h>

namespace sr {
namespace {

TEST(Bytes, VarintAndFieldsRoundTrip) {
  ByteWriter w;
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 35, ~0ull}) w.varint(v);
  w.u32(0xdeadbeef);
  w.i64(-5);
  w.str("name with \n and \xff");
  ByteReader r(w.buffer(), "test");
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 300ull, 1ull << 35, ~0ull})
    EXPECT_EQ(r.varint(), v);
  EXPECT_EQ(r.u32(), 0xdeadbeefu);
  EXPECT_EQ(r.i64(), -5);
  EXPECT_EQ(r.str(), "name with \n and \xff");
  EXPECT_TRUE(r.done());
}

TEST(Bytes, ReaderRefusesToReadPastTheEnd) {
  ByteWriter w;
  w.varint(1000);  // claims 1000 bytes follow
  w.raw(as_bytes("abc"));
  ByteReader r(w.buffer(), "object");
  try {
    r.bytes();
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("object is damaged"), std::string::npos);
  }
  Bytes endless(11, 0xff);
  ByteReader r2(endless, "v");
  EXPECT_THROW(r2.varint(), Error);
}

TEST(Bytes, HexAndBase64) {
  Bytes b = {0x00, 0x7f, 0x80, 0xff};
  EXPECT_EQ(to_hex(b), "007f80ff");
  EXPECT_EQ(from_hex("007f80ff"), b);
  EXPECT_THROW(from_hex("0g"), Error);
  for (size_t n = 0; n < 10; ++n) {
    Bytes x(n, 0xa5);
    EXPECT_EQ(base64_decode(base64_encode(x)), x) << n;
  }
  EXPECT_THROW(base64_decode("abc"), Error);
}

}  // namespace
}  // namespace sr

#include "base/time_util.h"

namespace sr {
namespace {
TEST(Time, ParsesRfc3339AndPostgresForms) {
  int64_t base = parse_rfc3339("2026-11-25T10:15:11Z");
  EXPECT_EQ(format_rfc3339(base), "2026-11-25T10:15:11Z");
  EXPECT_EQ(parse_rfc3339("2026-11-25 10:15:11+00"), base);
  EXPECT_EQ(parse_rfc3339("2026-11-25 11:15:11+01:00"), base);
  EXPECT_EQ(parse_rfc3339("2026-11-25T10:15:11.5Z"), base + 500000000);
  EXPECT_EQ(parse_rfc3339("2026-11-25 10:15:11.123456+00"), base + 123456000);
  EXPECT_EQ(format_pg_timestamp(base + 123456789), "2026-11-25 10:15:11.123456+00");
  for (const char* bad :
       {"", "2026-13-01T00:00:00Z", "yesterday", "2026-11-25T10:15:11Q", "2026-11-25T10:15:11."})
    EXPECT_THROW(parse_rfc3339(bad), Error) << bad;
}
}  // namespace
}  // namespace sr

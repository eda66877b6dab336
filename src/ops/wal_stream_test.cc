#include "ops/wal_stream.h"

#include <gtest/gtest.h>

#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

TEST(StreamStatus, JsonHasEveryField) {
  StreamStatus s;
  s.timeline = "2";
  s.received_lsn = "0/3000060";
  s.durable_lsn = "0/3000000";
  s.server_lsn = "0/3000100";
  s.lag_bytes = 256;
  s.seconds_since_durable = 0.25;
  nlohmann::json expect = {
      {"timeline", "2"},           {"received_lsn", "0/3000060"}, {"durable_lsn", "0/3000000"},
      {"server_lsn", "0/3000100"}, {"lag_bytes", 256u},           {"seconds_since_durable", 0.25}};
  EXPECT_EQ(s.to_json(), expect);
}

TEST(StreamWal, ReturnsAtOnceWhenCancelledAndRefusesABadSlotName) {
  sr::testing::TempDir dir;
  sr::testing::init_test_repository(dir);
  auto repo = sr::testing::open_test_repository(dir);
  StreamOptions o;
  o.conninfo = "host=/nonexistent port=1";  // never reached: cancelled before connecting
  CancelToken token;
  token.cancel();
  StreamStatus s = stream_wal(*repo, o, {&token, nullptr, nullptr});
  EXPECT_EQ(s.lag_bytes, 0u);
  EXPECT_TRUE(s.durable_lsn.empty());
  o.slot = "Bad-Slot";
  try {
    stream_wal(*repo, o, {&token, nullptr, nullptr});
    FAIL() << "an invalid slot name was accepted";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
  }
}

}  // namespace
}  // namespace sr::ops

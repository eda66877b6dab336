#include "pg/replication.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace sr::pg {
namespace {

Errc code_of(ByteSpan b) {
  try {
    decode_copy_data(b);
  } catch (const Error& e) {
    return e.code();
  }
  return Errc::kInternal;  // did not throw
}

TEST(Replication, XLogDataKnownLayout) {
  Bytes payload = {0xDE, 0xAD, 0xBE, 0xEF};
  Bytes b = encode_xlog_data(Lsn{0x0000001600000000ull}, Lsn{0x0000001600ABCDEFull},
                             0x0102030405060708ll, payload);
  // clang-format off
  Bytes want = {'w',
                0x00, 0x00, 0x00, 0x16, 0x00, 0x00, 0x00, 0x00,  // data start
                0x00, 0x00, 0x00, 0x16, 0x00, 0xAB, 0xCD, 0xEF,  // wal end
                0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,  // send time
                0xDE, 0xAD, 0xBE, 0xEF};                         // payload
  // clang-format on
  EXPECT_EQ(b, want);
  Message m = decode_copy_data(b);
  EXPECT_EQ(m.kind, Message::Kind::kXLogData);
  EXPECT_EQ(m.data_start.str(), "16/0");
  EXPECT_EQ(m.wal_end.str(), "16/ABCDEF");
  EXPECT_EQ(m.send_time, 0x0102030405060708ll);
  EXPECT_EQ(m.data, payload);
  EXPECT_FALSE(m.next_timeline);
}

TEST(Replication, XLogDataEmptyPayloadAndNegativeTime) {
  Bytes b = encode_xlog_data(Lsn{1}, Lsn{2}, -5, {});
  ASSERT_EQ(b.size(), 25u);
  Message m = decode_copy_data(b);
  EXPECT_EQ(m.data_start.value, 1u);
  EXPECT_EQ(m.wal_end.value, 2u);
  EXPECT_EQ(m.send_time, -5);
  EXPECT_TRUE(m.data.empty());
}

TEST(Replication, KeepaliveKnownLayout) {
  Bytes b = encode_keepalive(Lsn{0x00000001000000F0ull}, 0x00000A0B0C0D0E0Fll, true);
  // clang-format off
  Bytes want = {'k',
                0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0xF0,  // wal end
                0x00, 0x00, 0x0A, 0x0B, 0x0C, 0x0D, 0x0E, 0x0F,  // send time
                0x01};                                           // reply requested
  // clang-format on
  EXPECT_EQ(b, want);
  Message m = decode_copy_data(b);
  EXPECT_EQ(m.kind, Message::Kind::kKeepalive);
  EXPECT_EQ(m.wal_end.str(), "1/F0");
  EXPECT_EQ(m.send_time, 0x00000A0B0C0D0E0Fll);
  EXPECT_TRUE(m.reply_requested);
  EXPECT_FALSE(decode_copy_data(encode_keepalive(Lsn{7}, 0, false)).reply_requested);
}

TEST(Replication, StatusUpdateKnownLayout) {
  Bytes b = encode_status_update(Lsn{0x0000000300000010ull}, Lsn{0x0000000300000008ull}, Lsn{0},
                                 0x1122334455667788ll, true);
  // clang-format off
  Bytes want = {'r',
                0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x10,  // written
                0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x08,  // flushed
                0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // applied
                0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88,  // client time
                0x01};                                           // reply requested
  // clang-format on
  EXPECT_EQ(b, want);
  EXPECT_EQ(encode_status_update(Lsn{}, Lsn{}, Lsn{}, 0, false).back(), 0);
  EXPECT_EQ(encode_status_update(Lsn{}, Lsn{}, Lsn{}, 0, false).size(), 34u);
}

TEST(Replication, TruncatedMessagesAreCorrupt) {
  Bytes w = encode_xlog_data(Lsn{1}, Lsn{2}, 3, {});
  for (size_t n = 0; n < w.size(); ++n)
    EXPECT_EQ(code_of(ByteSpan(w.data(), n)), Errc::kCorrupt) << "w truncated to " << n;
  Bytes k = encode_keepalive(Lsn{1}, 2, false);
  for (size_t n = 0; n < k.size(); ++n)
    EXPECT_EQ(code_of(ByteSpan(k.data(), n)), Errc::kCorrupt) << "k truncated to " << n;
  Bytes k_long = k;
  k_long.push_back(0);
  EXPECT_EQ(code_of(k_long), Errc::kCorrupt);
  Bytes k_flag = k;
  k_flag.back() = 2;
  EXPECT_EQ(code_of(k_flag), Errc::kCorrupt);
  // A standby status update is our message, not the server's: decoding refuses it.
  EXPECT_EQ(code_of(encode_status_update(Lsn{}, Lsn{}, Lsn{}, 0, false)), Errc::kCorrupt);
  Bytes x = {'x', 0, 0};
  EXPECT_EQ(code_of(x), Errc::kCorrupt);
}

TEST(Replication, XLogDataWrappingPastEndOfWalIsCorrupt) {
  Bytes payload(16, 0);
  Bytes b = encode_xlog_data(Lsn{~0ull - 4}, Lsn{0}, 0, payload);
  EXPECT_EQ(code_of(b), Errc::kCorrupt);
}

TEST(Replication, PostgresEpoch) {
  using namespace std::chrono;
  // 2000-01-01 00:00:00 UTC is 946684800 s after the Unix epoch and 0 for PostgreSQL.
  system_clock::time_point y2k{seconds(946684800)};
  EXPECT_EQ(to_postgres_time(y2k), 0);
  EXPECT_EQ(from_postgres_time(0), y2k);
  EXPECT_EQ(to_postgres_time(system_clock::time_point{}), -946684800000000ll);
  // 2024-01-01 00:00:00 UTC = Unix 1704067200.
  system_clock::time_point t{seconds(1704067200) + microseconds(123456)};
  EXPECT_EQ(to_postgres_time(t), (1704067200ll - 946684800ll) * 1000000 + 123456);
  EXPECT_EQ(from_postgres_time(to_postgres_time(t)), t);
}

TEST(Replication, SlotNames) {
  EXPECT_TRUE(is_valid_slot_name("strongroom"));
  EXPECT_TRUE(is_valid_slot_name("a_1"));
  EXPECT_TRUE(is_valid_slot_name(std::string(63, 'a')));
  EXPECT_FALSE(is_valid_slot_name(std::string(64, 'a')));
  for (const char* bad : {"", "Slot", "a-b", "a b", "a;DROP", "é"})
    EXPECT_FALSE(is_valid_slot_name(bad)) << bad;
}

}  // namespace
}  // namespace sr::pg

namespace sr::pg {
namespace {

TEST(Replication, IdentifySystemFields) {
  SystemInfo s = system_info_from_fields("7301234567890123456", "2", "16/B374D848", std::nullopt);
  EXPECT_EQ(s.system_identifier, "7301234567890123456");
  EXPECT_EQ(s.timeline, 2u);
  EXPECT_EQ(s.xlogpos.str(), "16/B374D848");
  EXPECT_FALSE(s.dbname);
  EXPECT_EQ(system_info_from_fields("1", "1", "0/0", "postgres").dbname, "postgres");
  const std::vector<std::vector<std::string>> bad = {
      {"", "1", "0/0"},    {"12a", "1", "0/0"},       {"123456789012345678901", "1", "0/0"},
      {"1", "0", "0/0"},   {"1", "-1", "0/0"},        {"1", "4294967296", "0/0"},
      {"1", "1", "0/0/0"}, {"1", "1", "123456789/0"}, {"1", "1", ""}};
  for (const auto& f : bad) {
    try {
      (void)system_info_from_fields(f[0], f[1], f[2], std::nullopt);
      ADD_FAILURE() << f[0] << " " << f[1] << " " << f[2];
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kIo);
    }
  }
}

}  // namespace
}  // namespace sr::pg

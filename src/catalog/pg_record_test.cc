#include "catalog/pg_record.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "catalog/backup_record.h"
#include "catalog/timeline_history.h"

namespace sr::catalog {
namespace {

using nlohmann::json;

json sample_record() {
  return {{"stanza", "main"},
          {"backup_type", "incr"},
          {"system_identifier", "7312345678901234567"},
          {"version", 150004},
          {"segment_size", 16 << 20},
          {"data_directory", "/var/lib/pg"},
          {"data_checksums", true},
          {"timeline", 2},
          {"start_lsn", "0/3000028"},
          {"stop_lsn", "0/4000100"},
          {"start_wal", "000000020000000000000003"},
          {"stop_wal", "000000020000000000000004"},
          {"start_time", "2026-01-01T00:00:00Z"},
          {"start_time_ns", 1767225600000000000},
          {"stop_time", "2026-01-01T00:00:05Z"},
          {"stop_time_ns", 1767225605000000000},
          {"stop_xmax", "4294967400"},
          {"stop_xip", "4294967390,4294967399"},
          {"backup_label", "START WAL LOCATION: 0/3000028\n"},
          {"tablespace_map", "16390 /srv/ts\n"},
          {"databases",
           {{{"name", "app"},
             {"size", 8000000},
             {"tables", {{{"name", "public.t"}, {"rows_estimate", -1}, {"size", 8192}}}}}}},
          {"future_field", {{"x", 1}}}};
}

// The error a damaged record gives: kCorrupt, naming the manifest and the field.
void expect_corrupt(const json& j, const std::string& field) {
  try {
    PgBackupInfo::from_json(j, "manifest 1a2b3c4d");
    FAIL() << "accepted a record with a bad '" << field << "'";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt) << e.what();
    EXPECT_NE(std::string(e.what()).find("manifest 1a2b3c4d"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
  }
}

TEST(PgRecord, ReadsEveryFieldAndWritesTheSameObject) {
  json j = sample_record();
  PgBackupInfo p = PgBackupInfo::from_json(j, "manifest x");
  EXPECT_EQ(p.stanza, "main");
  EXPECT_EQ(p.type, PgBackupType::kIncr);
  EXPECT_EQ(p.version, 150004);
  EXPECT_EQ(p.timeline, 2u);
  EXPECT_EQ(p.start_lsn.value, 0x3000028u);
  EXPECT_EQ(p.stop_lsn.value, 0x4000100u);
  ASSERT_TRUE(p.stop_xmax);
  EXPECT_EQ(*p.stop_xmax, 4294967400u);
  EXPECT_EQ(p.stop_xip, (std::vector<uint64_t>{4294967390u, 4294967399u}));
  EXPECT_TRUE(p.xid_in_progress_at_stop(4294967399u));
  EXPECT_FALSE(p.xid_in_progress_at_stop(4294967398u));
  ASSERT_EQ(p.databases.size(), 1u);
  EXPECT_EQ(p.databases[0].tables.at(0).rows_estimate, -1);
  EXPECT_TRUE(p.data_checksums);
  // Written back field for field, including the field a later version added.
  EXPECT_EQ(p.to_json(), j);
}

TEST(PgRecord, OptionalFieldsOfOlderRecords) {
  json j = sample_record();
  for (const char* k : {"stop_xmax", "stop_xip", "databases", "version", "tablespace_map"})
    j.erase(k);
  PgBackupInfo p = PgBackupInfo::from_json(j, "manifest x");
  EXPECT_FALSE(p.stop_xmax);
  EXPECT_TRUE(p.stop_xip.empty());
  EXPECT_EQ(p.version, 0);
  EXPECT_EQ(p.tablespace_map, "");
  EXPECT_FALSE(p.to_json().contains("stop_xmax"));
}

TEST(PgRecord, HostileSegmentSizes) {
  for (json v : {json(0), json(3 << 20), json(1 << 19), json(2ull << 30), json(-16), json(1.5),
                 json("16777216")}) {
    json j = sample_record();
    j["segment_size"] = v;
    expect_corrupt(j, "segment_size");
  }
}

TEST(PgRecord, HostileLsnsAndTimeline) {
  for (const char* k : {"start_lsn", "stop_lsn"}) {
    for (json v : {json("0/"), json("zz/1"), json("123456789/0"), json(42), json("")}) {
      json j = sample_record();
      j[k] = v;
      expect_corrupt(j, k);
    }
  }
  json j = sample_record();
  j["stop_lsn"] = "0/1000000";  // before start_lsn
  expect_corrupt(j, "stop_lsn");
  j = sample_record();
  j["timeline"] = 0;
  expect_corrupt(j, "timeline");
  j["timeline"] = "2";
  expect_corrupt(j, "timeline");
  j["timeline"] = 1ll << 40;
  expect_corrupt(j, "timeline");
}

TEST(PgRecord, HostileXids) {
  for (const char* xip :
       {"12,x", "12,", ",12", "1 2", "99999999999999999999999", "18446744073709551616"}) {
    json j = sample_record();
    j["stop_xip"] = xip;
    expect_corrupt(j, "stop_xip");
  }
  for (const char* xmax : {"", "-1", "0x10", "18446744073709551616"}) {
    json j = sample_record();
    j["stop_xmax"] = xmax;
    expect_corrupt(j, "stop_xmax");
  }
  json j = sample_record();
  j["stop_xip"] = "";
  EXPECT_TRUE(PgBackupInfo::from_json(j, "m").stop_xip.empty());
  j["stop_xmax"] = "18446744073709551615";
  EXPECT_EQ(*PgBackupInfo::from_json(j, "m").stop_xmax, UINT64_MAX);
}

TEST(PgRecord, MissingAndMistypedFields) {
  expect_corrupt(json::array(), "pg record");
  for (const char* k : {"stanza", "backup_type", "segment_size", "timeline", "start_lsn",
                        "stop_lsn", "stop_time_ns"}) {
    json j = sample_record();
    j.erase(k);
    expect_corrupt(j, k);
  }
  json j = sample_record();
  j["backup_type"] = "partial";
  expect_corrupt(j, "backup_type");
  j = sample_record();
  j["stop_time_ns"] = 1.5e18;
  expect_corrupt(j, "stop_time_ns");
  j = sample_record();
  j["databases"] = {{{"size", 1}}};
  expect_corrupt(j, "databases");
  j = sample_record();
  j["data_checksums"] = "yes";
  expect_corrupt(j, "data_checksums");
  EXPECT_EQ(pg_record_stanza(sample_record()), "main");
  EXPECT_EQ(pg_record_stanza(json{{"stanza", 5}}), std::nullopt);
}

TEST(BackupKind, ParsesTheManifestTypes) {
  EXPECT_EQ(parse_backup_kind("postgres", "m"), BackupKind::kPostgres);
  EXPECT_EQ(to_string(parse_backup_kind("command", "m")), "command");
  try {
    parse_backup_kind("tape", "manifest 9f");
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCorrupt);
    EXPECT_NE(std::string(e.what()).find("manifest 9f"), std::string::npos);
  }
}

TEST(TablespaceMap, ParsesEscapedPaths) {
  auto m = parse_tablespace_map("16384 /srv/ts one\n\n16385 /srv/a\\\\\n16386 /srv/new\\\nline\n");
  ASSERT_EQ(m.size(), 3u);
  EXPECT_EQ(m["16384"], "/srv/ts one");
  EXPECT_EQ(m["16385"], "/srv/a\\");        // an escaped backslash ends the path
  EXPECT_EQ(m["16386"], "/srv/new\nline");  // an escaped newline is part of it
  EXPECT_TRUE(parse_tablespace_map("").empty());
}

TEST(TablespaceMap, RefusesHostileMaps) {
  for (const char* bad :
       {"16384\n", " /x\n", "../1 /x\n", "12345678901 /x\n", "1 \n", "1 /a\n1 /b\n", "1\n /x\n"})
    EXPECT_THROW(parse_tablespace_map(bad), Error) << bad;
  json j = PgBackupInfo{}.to_json();
  j["stanza"] = "main";
  j["tablespace_map"] = "../../etc /tmp/x\n";
  EXPECT_THROW(PgBackupInfo::from_json(j, "manifest 1"), Error);
}

TEST(TimelineHistory, ParsesSwitchesAndFindsTheTimelineOfAnLsn) {
  auto h = pg::TimelineHistory::parse(
      3, "1\t0/3000158\tno recovery target specified\n\n# comment\n2\t0/5000000\tat lsn\n");
  ASSERT_EQ(h.switches.size(), 2u);
  EXPECT_EQ(h.switches[1].parent, 2u);
  EXPECT_EQ(h.switches[1].reason, "at lsn");
  EXPECT_EQ(h.timeline_at(pg::Lsn{0x3000000}), 1u);
  EXPECT_EQ(h.timeline_at(pg::Lsn{0x4000000}), 2u);
  EXPECT_EQ(h.timeline_at(pg::Lsn{0x6000000}), 3u);
  for (const char* bad : {"1\n", "3\t0/1\n", "2\t0/1\n1\t0/2\n", "x\t0/1\n", "1\tnot-an-lsn\n"})
    EXPECT_THROW(pg::TimelineHistory::parse(3, bad), Error) << bad;
}

}  // namespace
}  // namespace sr::catalog

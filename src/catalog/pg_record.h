// catalog/pg_record.h: the record of a PostgreSQL backup (a manifest's extra["pg"] object).
//
// PgBackupInfo is the one place that reads and writes that object: ops/pg_backup fills a
// PgBackupInfo and stores to_json(); every reader goes through from_json(). from_json validates
// every field it reads: a damaged or hostile record gives Error{kCorrupt} naming `what` (e.g.
// "manifest 1a2b3c4d") and the field, never a conversion exception, and a record that passes is
// safe to compute with (segment_size is a power of two from 1 MiB to 1 GiB, timeline >= 1,
// LSNs parse, stop_lsn >= start_lsn, xids are decimal numbers that fit 64 bits).
// Fields the record does not know are kept (`unknown`) and written back unchanged.
// Field names and formats (see docs/FORMAT.md): stanza, backup_type ("full"|"diff"|"incr"),
// system_identifier (decimal text), version (server_version_num), segment_size, data_directory,
// data_checksums, timeline, start_lsn/stop_lsn ("X/Y"), start_wal/stop_wal (segment names),
// start_time/stop_time (RFC 3339) with start_time_ns/stop_time_ns, stop_xmax (decimal text) and
// stop_xip (comma-separated decimal xids), backup_label, tablespace_map (the server's files), and
// databases [{name, size, tables: [{name, rows_estimate, size}]}].
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/lsn.h"

namespace sr::catalog {

enum class PgBackupType { kFull, kDiff, kIncr };
std::string to_string(PgBackupType type);
// "full" | "diff" | "incr"; nullopt otherwise.
std::optional<PgBackupType> parse_pg_backup_type(const std::string& text);

struct TableStats {
  std::string name;  // "schema.table"
  int64_t rows_estimate = 0;
  uint64_t size = 0;
};

struct DatabaseStats {
  std::string name;
  uint64_t size = 0;
  std::vector<TableStats> tables;  // the largest, at most 50
};

struct PgBackupInfo {
  std::string stanza;
  PgBackupType type = PgBackupType::kFull;
  std::string system_identifier;
  int version = 0;  // server_version_num, e.g. 150004 (0: not recorded)
  uint64_t segment_size = pg::kDefaultSegmentSize;
  std::string data_directory;
  bool data_checksums = false;
  pg::TimelineId timeline = 1;
  pg::Lsn start_lsn, stop_lsn;
  std::string start_wal, stop_wal;
  int64_t start_time_ns = 0, stop_time_ns = 0;
  // The snapshot just after the stop: transactions below stop_xmax and not in stop_xip had
  // finished (recorded by every backup since restores to an xid were added; absent before).
  std::optional<uint64_t> stop_xmax;
  std::vector<uint64_t> stop_xip;
  std::string backup_label, tablespace_map;
  std::vector<DatabaseStats> databases;
  nlohmann::json unknown = nlohmann::json::object();  // fields of later versions, kept

  // Throws Error{kCorrupt, "<what> is damaged: …"}.
  static PgBackupInfo from_json(const nlohmann::json& j, const std::string& what);
  nlohmann::json to_json() const;
  bool xid_in_progress_at_stop(uint64_t xid) const;
};

// A backup's tablespace_map (PostgreSQL's "OID PATH" lines, '\' escaping newlines and backslashes
// in PATH) as OID → recorded path. Throws Error{kCorrupt} for a line without a space, an OID that
// is not decimal digits, an empty path or an OID given twice. PgBackupInfo::from_json checks the
// map with it, so a restore meets only maps that parse.
std::map<std::string, std::string> parse_tablespace_map(const std::string& map);

// The stanza a record claims, if it names one as a string (for skipping other clusters' records
// without validating them); nullopt when absent or not a string.
std::optional<std::string> pg_record_stanza(const nlohmann::json& j);

}  // namespace sr::catalog

#include "catalog/pg_record.h"

#include <algorithm>
#include <set>

#include "base/error.h"
#include "base/json_util.h"
#include "base/time_util.h"

namespace sr::catalog {

using nlohmann::json;

std::string to_string(PgBackupType type) {
  switch (type) {
    case PgBackupType::kFull:
      return "full";
    case PgBackupType::kDiff:
      return "diff";
    case PgBackupType::kIncr:
      return "incr";
  }
  return "full";
}

std::optional<PgBackupType> parse_pg_backup_type(const std::string& text) {
  if (text == "full") return PgBackupType::kFull;
  if (text == "diff") return PgBackupType::kDiff;
  if (text == "incr") return PgBackupType::kIncr;
  return std::nullopt;
}

namespace {

// Reads the record's fields, each error naming the record and the field.
class Reader {
 public:
  Reader(const json& j, const std::string& what) : j_(j), what_(what) {
    if (!j.is_object())
      throw Error(Errc::kCorrupt, what + " is damaged: its pg record is not an object");
  }
  [[noreturn]] void bad(const char* key, const std::string& why) const {
    throw Error(Errc::kCorrupt, what_ + " is damaged: pg field '" + key + "' " + why);
  }
  bool has(const char* key) const { return j_.contains(key); }
  std::string str(const char* key) const {
    if (!has(key)) bad(key, "is missing");
    if (!j_[key].is_string()) bad(key, "is not a string");
    return j_[key].get<std::string>();
  }
  std::string str_or(const char* key, const std::string& fallback) const {
    return has(key) ? str(key) : fallback;
  }
  template <typename T>
  T integer(const char* key) const {
    return json_int<T>(j_, key, what_ + " (pg record)");
  }
  template <typename T>
  T integer_or(const char* key, T fallback) const {
    return json_int_or<T>(j_, key, fallback, what_ + " (pg record)");
  }
  bool boolean_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!j_[key].is_boolean()) bad(key, "is not true or false");
    return j_[key].get<bool>();
  }
  pg::Lsn lsn(const char* key) const {
    try {
      return pg::Lsn::parse(str(key));
    } catch (const Error& e) {
      if (e.code() == Errc::kCorrupt) throw;
      bad(key, "is not an LSN");
    }
  }
  // A decimal number of 1 to 20 digits that fits 64 bits.
  uint64_t decimal(const char* key, const std::string& text) const {
    if (text.empty() || text.size() > 20 || text.find_first_not_of("0123456789") != text.npos)
      bad(key, "holds '" + text.substr(0, 40) + "', not a transaction id");
    uint64_t v = 0;
    for (char c : text) {
      auto d = static_cast<uint64_t>(c - '0');
      if (v > (UINT64_MAX - d) / 10) bad(key, "holds a transaction id beyond 64 bits");
      v = v * 10 + d;
    }
    return v;
  }
  const json& at(const char* key) const { return j_[key]; }

 private:
  const json& j_;
  const std::string& what_;
};

std::vector<DatabaseStats> read_databases(const Reader& r, const std::string& what) {
  std::vector<DatabaseStats> out;
  if (!r.has("databases")) return out;
  const json& dbs = r.at("databases");
  if (!dbs.is_array()) r.bad("databases", "is not a list");
  const std::string ctx = what + " (pg databases)";
  for (const json& d : dbs) {
    if (!d.is_object() || !d.contains("name") || !d["name"].is_string())
      r.bad("databases", "holds an entry without a name");
    DatabaseStats db{d["name"].get<std::string>(), json_int<uint64_t>(d, "size", ctx), {}};
    if (d.contains("tables")) {
      if (!d["tables"].is_array()) r.bad("databases", "holds a table list that is not a list");
      for (const json& t : d["tables"]) {
        if (!t.is_object() || !t.contains("name") || !t["name"].is_string())
          r.bad("databases", "holds a table without a name");
        db.tables.push_back({t["name"].get<std::string>(),
                             json_int<int64_t>(t, "rows_estimate", ctx),
                             json_int<uint64_t>(t, "size", ctx)});
      }
    }
    out.push_back(std::move(db));
  }
  return out;
}

std::vector<uint64_t> read_xip(const Reader& r, const std::string& text) {
  std::vector<uint64_t> out;
  for (size_t p = 0; p < text.size();) {
    size_t q = text.find(',', p);
    if (q == std::string::npos) q = text.size();
    out.push_back(r.decimal("stop_xip", text.substr(p, q - p)));
    p = q + 1;
    if (q + 1 == text.size()) r.bad("stop_xip", "ends with a comma");
  }
  return out;
}

const std::set<std::string>& known_fields() {
  static const std::set<std::string> k = {
      "stanza",         "backup_type",    "system_identifier", "version",       "segment_size",
      "data_directory", "data_checksums", "timeline",          "start_lsn",     "stop_lsn",
      "start_wal",      "stop_wal",       "start_time",        "start_time_ns", "stop_time",
      "stop_time_ns",   "stop_xmax",      "stop_xip",          "backup_label",  "tablespace_map",
      "databases"};
  return k;
}

}  // namespace

PgBackupInfo PgBackupInfo::from_json(const json& j, const std::string& what) {
  Reader r(j, what);
  PgBackupInfo p;
  p.stanza = r.str("stanza");
  auto type = parse_pg_backup_type(r.str("backup_type"));
  if (!type) r.bad("backup_type", "is not full, diff or incr");
  p.type = *type;
  p.system_identifier = r.str_or("system_identifier", "");
  p.version = r.integer_or<int>("version", 0);
  p.segment_size = r.integer<uint64_t>("segment_size");
  // PostgreSQL allows powers of two from 1 MiB to 1 GiB.
  if (!pg::is_wal_segment_size(p.segment_size))
    r.bad("segment_size", "is not a WAL segment size (a power of two, 1 MiB to 1 GiB)");
  p.data_directory = r.str_or("data_directory", "");
  p.data_checksums = r.boolean_or("data_checksums", false);
  p.timeline = r.integer<pg::TimelineId>("timeline");
  if (p.timeline == 0) r.bad("timeline", "is 0");
  p.start_lsn = r.lsn("start_lsn");
  p.stop_lsn = r.lsn("stop_lsn");
  if (p.stop_lsn < p.start_lsn) r.bad("stop_lsn", "is before start_lsn");
  p.start_wal = r.str_or("start_wal", "");
  p.stop_wal = r.str_or("stop_wal", "");
  p.start_time_ns = r.integer_or<int64_t>("start_time_ns", 0);
  p.stop_time_ns = r.integer<int64_t>("stop_time_ns");
  if (r.has("stop_xmax")) {
    p.stop_xmax = r.decimal("stop_xmax", r.str("stop_xmax"));
    p.stop_xip = read_xip(r, r.str_or("stop_xip", ""));
  }
  p.backup_label = r.str_or("backup_label", "");
  p.tablespace_map = r.str_or("tablespace_map", "");
  try {
    (void)parse_tablespace_map(p.tablespace_map);
  } catch (const Error& e) {
    r.bad("tablespace_map", e.what());
  }
  p.databases = read_databases(r, what);
  for (const auto& [key, value] : j.items())
    if (!known_fields().count(key)) p.unknown[key] = value;
  return p;
}

json PgBackupInfo::to_json() const {
  json j = unknown.is_object() ? unknown : json::object();
  j.update(json{{"stanza", stanza},
                {"backup_type", to_string(type)},
                {"system_identifier", system_identifier},
                {"segment_size", segment_size},
                {"data_directory", data_directory},
                {"data_checksums", data_checksums},
                {"timeline", timeline},
                {"start_lsn", start_lsn.str()},
                {"stop_lsn", stop_lsn.str()},
                {"start_wal", start_wal},
                {"stop_wal", stop_wal},
                {"start_time", format_rfc3339(start_time_ns)},
                {"start_time_ns", start_time_ns},
                {"stop_time", format_rfc3339(stop_time_ns)},
                {"stop_time_ns", stop_time_ns},
                {"backup_label", backup_label},
                {"tablespace_map", tablespace_map}});
  if (version) j["version"] = version;
  if (stop_xmax) {
    j["stop_xmax"] = std::to_string(*stop_xmax);
    std::string xip;
    for (uint64_t x : stop_xip) xip += (xip.empty() ? "" : ",") + std::to_string(x);
    j["stop_xip"] = xip;
  }
  json dbs = json::array();
  for (const auto& d : databases) {
    json tables = json::array();
    for (const auto& t : d.tables)
      tables.push_back({{"name", t.name}, {"rows_estimate", t.rows_estimate}, {"size", t.size}});
    dbs.push_back({{"name", d.name}, {"size", d.size}, {"tables", tables}});
  }
  j["databases"] = dbs;
  return j;
}

bool PgBackupInfo::xid_in_progress_at_stop(uint64_t xid) const {
  return std::find(stop_xip.begin(), stop_xip.end(), xid) != stop_xip.end();
}

std::map<std::string, std::string> parse_tablespace_map(const std::string& map) {
  std::map<std::string, std::string> out;
  size_t i = 0;
  while (i < map.size()) {
    if (map[i] == '\n') {  // an empty line
      ++i;
      continue;
    }
    size_t sp = map.find(' ', i);
    size_t nl = map.find('\n', i);
    if (sp == std::string::npos || sp == i || (nl != std::string::npos && nl < sp))
      throw Error(Errc::kCorrupt, "bad tablespace_map line (no \"OID PATH\")");
    std::string oid = map.substr(i, sp - i);
    if (oid.size() > 10 || oid.find_first_not_of("0123456789") != std::string::npos)
      throw Error(Errc::kCorrupt, "bad tablespace OID in the tablespace_map");
    // PATH runs to the first newline not escaped by '\' (PostgreSQL escapes '\n', '\r', '\\').
    std::string path;
    for (i = sp + 1; i < map.size() && map[i] != '\n'; ++i) {
      if (map[i] == '\\' && i + 1 < map.size()) ++i;
      path += map[i];
    }
    if (path.empty()) throw Error(Errc::kCorrupt, "tablespace " + oid + " has an empty path");
    if (!out.emplace(oid, path).second)
      throw Error(Errc::kCorrupt, "tablespace " + oid + " appears twice in the tablespace_map");
  }
  return out;
}

std::optional<std::string> pg_record_stanza(const json& j) {
  if (!j.is_object() || !j.contains("stanza") || !j["stanza"].is_string()) return std::nullopt;
  return j["stanza"].get<std::string>();
}

}  // namespace sr::catalog

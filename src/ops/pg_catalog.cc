#include "ops/pg_catalog.h"

#include "base/bytes.h"

namespace sr::ops {

catalog::BackupRecord backup_record(const repo::Manifest& m) {
  const std::string what = "manifest " + m.id.substr(0, 8);
  catalog::BackupRecord r;
  r.id = m.id;
  r.kind = catalog::parse_backup_kind(m.type, what);
  r.source = m.source;
  r.host = m.host;
  r.user = m.user;
  r.name = m.name;
  r.start_ns = m.time_ns;
  r.end_ns = m.end_time_ns;
  r.size = m.size;
  r.stored_size = m.stored_size;
  r.added_size = m.added_size;
  r.file_count = m.file_count;
  r.parent = m.parent;
  r.tags = m.tags;
  r.paths = m.paths;
  r.config_source = m.config_source;
  if (r.kind == catalog::BackupKind::kPostgres) {
    if (!m.extra.contains("pg"))
      throw Error(Errc::kCorrupt, what + " is damaged: a PostgreSQL backup without its pg record");
    r.pg = catalog::PgBackupInfo::from_json(m.extra["pg"], what);
  }
  return r;
}

PgBackupRecords pg_backup_records(repo::Repository& repo, const std::string& stanza) {
  repo::ManifestScan scan = repo.scan_manifests();
  PgBackupRecords out;
  for (const auto& d : scan.damaged) out.damaged.push_back(d.id + ": " + d.error);
  std::vector<catalog::BackupRecord> all;
  for (const auto& m : scan.readable) {
    if (m.type != "postgres") continue;
    // Another cluster's record is not ours to judge: only a record that names this stanza (or
    // names none while its source is this stanza) is validated.
    std::optional<std::string> s;
    if (m.extra.contains("pg")) s = catalog::pg_record_stanza(m.extra["pg"]);
    if (s ? *s != stanza : m.source != "postgres:" + stanza) continue;
    try {
      all.push_back(backup_record(m));
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt) throw;
      out.damaged.push_back(m.id + ": " + e.what());
    }
  }
  out.backups = catalog::pg_backups_of(all, stanza);
  return out;
}

void refuse_choice_over_damage(const PgBackupRecords& records, const std::string& what) {
  if (records.damaged.empty()) return;
  std::string list;
  for (const auto& d : records.damaged) list += "\n  " + d;
  throw Error(Errc::kCorrupt, "cannot choose " + what + ": " +
                                  std::to_string(records.damaged.size()) +
                                  " backup manifest(s) cannot be read, and one of them may be the "
                                  "backup to use (run verify; name a backup with --backup ID to "
                                  "restore it regardless):" +
                                  list);
}

catalog::WalArchive load_wal_archive(repo::WalStore& store, uint64_t segment_size) {
  catalog::WalArchive a;
  std::vector<std::string> history_names;
  store.list([&](const std::string& name) {
    if (pg::is_history_file_name(name))
      history_names.push_back(name);
    else
      a.add_segment_name(name, segment_size, false);
  });
  // Streamed, not yet complete segments.
  store.list_streamed(
      [&](const std::string& name) { a.add_segment_name(name, segment_size, true); });
  for (const auto& name : history_names) {
    auto tli = static_cast<pg::TimelineId>(std::stoul(name.substr(0, 8), nullptr, 16));
    if (auto content = store.get(name))
      a.histories[tli] = pg::TimelineHistory::parse(tli, std::string(as_chars(*content)));
  }
  return a;
}

}  // namespace sr::ops

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
  if (r.kind == catalog::BackupKind::kPostgres) {
    if (!m.extra.contains("pg"))
      throw Error(Errc::kCorrupt, what + " is damaged: a PostgreSQL backup without its pg record");
    r.pg = catalog::PgBackupInfo::from_json(m.extra["pg"], what);
  }
  return r;
}

std::vector<catalog::BackupRecord> pg_backup_records(repo::Repository& repo,
                                                     const std::string& stanza) {
  std::vector<catalog::BackupRecord> all;
  for (const auto& m : repo.list_manifests()) {
    if (m.type != "postgres") continue;
    // Another cluster's record is not ours to judge; one that does not say is validated.
    if (m.extra.contains("pg")) {
      auto s = catalog::pg_record_stanza(m.extra["pg"]);
      if (s && *s != stanza) continue;
    } else if (m.source != "postgres:" + stanza) {
      continue;
    }
    all.push_back(backup_record(m));
  }
  return catalog::pg_backups_of(all, stanza);
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

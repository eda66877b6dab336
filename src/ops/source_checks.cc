#include "ops/source_checks.h"

#include <algorithm>

#include "base/time_util.h"
#include "catalog/recovery.h"
#include "ops/pg_catalog.h"
#include "ops/sources.h"
#include "repo/wal_store.h"

namespace sr::ops {
namespace {

constexpr int64_t kNs = 1'000'000'000;

std::string age_text(int64_t ns) { return config::format_duration(std::max<int64_t>(0, ns / kNs)); }

nlohmann::json time_or_null(int64_t ns) {
  return ns ? nlohmann::json(format_rfc3339(ns)) : nlohmann::json(nullptr);
}

void check_postgres(repo::Repository& repo, const config::Config& config,
                    const config::SourceConfig& s,
                    const std::vector<catalog::BackupRecord>& backups, int64_t now,
                    SourceCheck& c) {
  c.stanza = s.stanza;
  c.max_wal_lag_s = s.verify.max_wal_lag ? s.verify.max_wal_lag : s.rpo;
  c.pitr_window_s = config.retention_for(s).pitr_window;
  repo::WalStore store(repo, s.stanza);
  c.newest_wal_ns = store.newest_stored_ns();
  if (c.max_wal_lag_s) {
    if (c.newest_wal_ns == 0) {
      c.wal_fresh = false;
      c.problems.push_back("source " + s.name + ": no WAL of stanza " + s.stanza +
                           " in the repository (or the store does not say when it was written)");
    } else if (now - c.newest_wal_ns > *c.max_wal_lag_s * kNs) {
      c.wal_fresh = false;
      c.problems.push_back("source " + s.name + ": the newest WAL was stored " +
                           age_text(now - c.newest_wal_ns) + " ago (" +
                           format_rfc3339(c.newest_wal_ns) + "), over the allowed " +
                           config::format_duration(*c.max_wal_lag_s) + ": is archiving running?");
    }
  }
  if (backups.empty()) return;
  uint64_t segment_size =
      backups.front().pg ? backups.front().pg->segment_size : pg::kDefaultSegmentSize;
  catalog::WalArchive archive = load_wal_archive(store, segment_size);
  for (const auto& b : backups) {  // oldest first
    if (!b.pg) continue;
    try {
      catalog::check_wal_chain(archive, b, std::nullopt);
      if (c.window_start_ns == 0 || b.pg->stop_time_ns < c.window_start_ns)
        c.window_start_ns = b.pg->stop_time_ns;
    } catch (const Error& e) {
      if (e.code() != Errc::kNotFound && e.code() != Errc::kCorrupt) throw;
      c.continuous = false;
      c.problems.push_back("source " + s.name + ": backup " + b.id + " (" +
                           format_rfc3339(b.end_ns) +
                           ") cannot be recovered past its WAL: " + e.what());
    }
  }
  if (c.window_start_ns) c.window_end_ns = std::max(c.newest_wal_ns, c.window_start_ns);
  if (c.pitr_window_s) {
    int64_t want = now - *c.pitr_window_s * kNs;
    if (c.window_start_ns == 0)
      c.problems.push_back("source " + s.name +
                           ": no point in time is recoverable (no backup "
                           "with continuous WAL); the configured window is " +
                           config::format_duration(*c.pitr_window_s));
    else if (c.window_start_ns > want)
      c.problems.push_back(
          "source " + s.name + ": the point-in-time window starts at " +
          format_rfc3339(c.window_start_ns) + ", " + age_text(now - c.window_start_ns) +
          " ago: shorter than the configured " + config::format_duration(*c.pitr_window_s));
  }
}

}  // namespace

nlohmann::json SourceCheck::to_json() const {
  nlohmann::json j = {{"source", source},
                      {"type", type},
                      {"kind", kind},
                      {"ok", ok()},
                      {"backups", backups},
                      {"newest_backup", newest_backup.empty() ? nlohmann::json(nullptr)
                                                              : nlohmann::json(newest_backup)},
                      {"newest_backup_end", time_or_null(newest_backup_end_ns)},
                      {"max_age", config::format_duration(max_age_s)},
                      {"fresh", fresh},
                      {"problems", problems}};
  if (!stanza.empty()) {
    j["stanza"] = stanza;
    j["newest_wal"] = time_or_null(newest_wal_ns);
    j["max_wal_lag"] = max_wal_lag_s ? nlohmann::json(config::format_duration(*max_wal_lag_s))
                                     : nlohmann::json(nullptr);
    j["wal_fresh"] = wal_fresh;
    j["continuous"] = continuous;
    j["pitr_window"] = {
        {"start", time_or_null(window_start_ns)},
        {"end", time_or_null(window_end_ns)},
        {"configured", pitr_window_s ? nlohmann::json(config::format_duration(*pitr_window_s))
                                     : nlohmann::json(nullptr)}};
  }
  return j;
}

std::vector<SourceCheck> check_sources(repo::Repository& repo, const SourceChecksOptions& o,
                                       const OpContext& ctx) {
  if (o.config == nullptr) return {};
  for (const auto& name : o.sources) {
    const auto& s = o.config->source(name);
    if (s.repository != o.repository)
      throw Error(Errc::kUsage, "source " + name + " is kept in repository " + s.repository +
                                    ", not " + o.repository);
  }
  // Readable manifests only: verify reports the damaged ones itself.
  std::vector<catalog::BackupRecord> records;
  for (const auto& m : repo.scan_manifests().readable) {
    try {
      records.push_back(backup_record(m));
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt) throw;
    }
  }
  SourceAssignment groups = assign_backups(records, *o.config, o.repository);
  std::vector<SourceCheck> out;
  for (auto& g : groups.sources) {
    const auto& s = *g.source;
    if (!o.sources.empty() &&
        std::find(o.sources.begin(), o.sources.end(), s.name) == o.sources.end())
      continue;
    ctx.check_cancelled();
    SourceCheck c;
    c.source = s.name;
    c.type = config::to_string(s.type);
    c.kind = s.kind;
    c.backups = g.backups.size();
    c.max_age_s = s.verify.max_age;
    std::sort(g.backups.begin(), g.backups.end(),
              [](const auto& a, const auto& b) { return a.end_ns < b.end_ns; });
    if (g.backups.empty()) {
      c.problems.push_back("source " + s.name + ": no backup in repository " + o.repository);
    } else {
      const auto& newest = g.backups.back();
      c.newest_backup = newest.id;
      c.newest_backup_end_ns = newest.end_ns;
      c.fresh = o.now_ns - newest.end_ns <= s.verify.max_age * kNs;
      if (!c.fresh)
        c.problems.push_back("source " + s.name + ": the newest backup, " + newest.id + " of " +
                             format_rfc3339(newest.end_ns) + ", is " +
                             age_text(o.now_ns - newest.end_ns) + " old, over max_age " +
                             config::format_duration(s.verify.max_age));
    }
    if (s.type == config::SourceType::kPostgres) {
      std::vector<catalog::BackupRecord> pg;
      for (const auto& b : g.backups)
        if (b.kind == catalog::BackupKind::kPostgres) pg.push_back(b);
      check_postgres(repo, *o.config, s, pg, o.now_ns, c);
    }
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace sr::ops

#include "catalog/recovery.h"

#include <algorithm>

#include "base/error.h"
#include "base/time_util.h"

namespace sr::catalog {

TargetKind parse_target_kind(const std::string& kind) {
  if (kind.empty()) return TargetKind::kLatest;
  if (kind == "time") return TargetKind::kTime;
  if (kind == "lsn") return TargetKind::kLsn;
  if (kind == "xid") return TargetKind::kXid;
  if (kind == "name") return TargetKind::kName;
  if (kind == "immediate") return TargetKind::kImmediate;
  throw Error(Errc::kUsage, "unknown recovery target kind");
}

std::string target_kind_name(TargetKind kind) {
  switch (kind) {
    case TargetKind::kLatest:
      return "";
    case TargetKind::kTime:
      return "time";
    case TargetKind::kLsn:
      return "lsn";
    case TargetKind::kXid:
      return "xid";
    case TargetKind::kName:
      return "name";
    case TargetKind::kImmediate:
      return "immediate";
  }
  return "";
}

RecoveryTarget parse_recovery_target(const std::string& kind, const std::string& value) {
  RecoveryTarget t;
  t.kind = parse_target_kind(kind);
  t.value = value;
  if (t.kind == TargetKind::kTime) t.time_ns = parse_rfc3339(value);
  if (t.kind == TargetKind::kLsn) t.lsn = pg::Lsn::parse(value);
  if (t.kind == TargetKind::kXid) {
    // Digits, and no more than 64 bits (PostgreSQL takes a 32-bit xid or a 64-bit one with epoch).
    bool ok = !value.empty() && value.size() <= 20 &&
              value.find_first_not_of("0123456789") == std::string::npos;
    for (size_t i = 0; ok && i < value.size(); ++i) {
      auto d = static_cast<uint64_t>(value[i] - '0');
      ok = t.xid <= (UINT64_MAX - d) / 10;
      t.xid = t.xid * 10 + d;
    }
    if (!ok) throw Error(Errc::kUsage, "--target-xid needs a transaction id (digits)");
  }
  if (t.kind == TargetKind::kName && value.empty())
    throw Error(Errc::kUsage, "--target-name needs a restore point name");
  return t;
}

namespace {

// Whether recovery from backup `b` can reach `t` (the backup ended before the target).
bool ends_before(const BackupRecord& b, const RecoveryTarget& t) {
  const PgBackupInfo& p = *b.pg;
  switch (t.kind) {
    case TargetKind::kTime:
      return p.stop_time_ns <= t.time_ns;
    case TargetKind::kLsn:
      return p.stop_lsn <= t.lsn;
    case TargetKind::kName:
      return !t.mark_lsn || p.stop_lsn <= *t.mark_lsn;
    case TargetKind::kXid: {
      if (!p.stop_xmax) return false;
      // A 32-bit xid is taken in the epoch of the backup's snapshot.
      uint64_t x = t.xid >> 32 ? t.xid : (*p.stop_xmax & ~0xffffffffull) | t.xid;
      return x >= *p.stop_xmax || p.xid_in_progress_at_stop(x);  // else: committed before
    }
    case TargetKind::kLatest:
    case TargetKind::kImmediate:
      return true;
  }
  return true;
}

}  // namespace

const BackupRecord& choose_backup(const std::vector<BackupRecord>& backups,
                                  const std::string& stanza, const RecoveryTarget& target,
                                  const WalArchive* archive) {
  std::vector<const BackupRecord*> mine;
  for (const auto& b : backups)
    if (b.kind == BackupKind::kPostgres && b.pg && b.pg->stanza == stanza) mine.push_back(&b);
  if (mine.empty())
    throw Error(Errc::kNotFound, "stanza '" + stanza + "' has no PostgreSQL backups");
  if (archive) {
    std::erase_if(mine, [&](const BackupRecord* b) { return !on_newest_history(*archive, *b); });
    if (mine.empty())
      throw Error(Errc::kNotFound,
                  "no backup of stanza '" + stanza +
                      "' lies on the history of the newest timeline in the archive (every "
                      "backup was taken on another branch, or on an ancestor after the fork); "
                      "take a new backup");
  }
  std::stable_sort(mine.begin(), mine.end(), [](const auto* a, const auto* b) {
    return a->pg->stop_time_ns < b->pg->stop_time_ns;
  });
  const BackupRecord* chosen = nullptr;
  for (const auto* b : mine) {
    if (!ends_before(*b, target)) continue;
    // A named point not recorded by a mark: replay from the earliest backup finds it.
    if (target.kind == TargetKind::kName && !target.mark_lsn && chosen) continue;
    chosen = b;
  }
  if (chosen) return *chosen;
  if (target.kind == TargetKind::kXid)
    throw Error(Errc::kNotFound, "transaction " + target.value +
                                     " finished before every backup of stanza '" + stanza +
                                     "' ended; no backup can recover to it");
  const PgBackupInfo& first = *mine.front()->pg;
  throw Error(Errc::kNotFound,
              "recovery target " + target.value + " is before the earliest backup of stanza '" +
                  stanza + "', which ends at " +
                  (target.kind == TargetKind::kTime ? format_rfc3339(first.stop_time_ns)
                                                    : first.stop_lsn.str()));
}

const BackupRecord& find_pg_backup(const std::vector<BackupRecord>& backups,
                                   const std::string& stanza, const std::string& id) {
  for (const auto& b : backups)
    if (b.id == id && b.kind == BackupKind::kPostgres && b.pg && b.pg->stanza == stanza) return b;
  throw Error(Errc::kUsage,
              "backup " + id + " is not a PostgreSQL backup of stanza '" + stanza + "'");
}

void check_target_after_backup(const BackupRecord& b, const RecoveryTarget& t) {
  const PgBackupInfo& p = *b.pg;
  if (t.kind == TargetKind::kTime && t.time_ns < p.stop_time_ns)
    throw Error(Errc::kUsage, "recovery target time is before backup " + b.short_id() + " ended (" +
                                  format_rfc3339(p.stop_time_ns) + ")");
  if (t.kind == TargetKind::kLsn && t.lsn < p.stop_lsn)
    throw Error(Errc::kUsage, "recovery target LSN is before backup " + b.short_id() + " ended (" +
                                  p.stop_lsn.str() + ")");
}

bool WalArchive::has(pg::TimelineId tli, uint64_t segno) const {
  auto s = segments.find(tli);
  if (s != segments.end() && s->second.count(segno)) return true;
  auto p = partial.find(tli);
  return p != partial.end() && p->second.count(segno);
}

void WalArchive::add_segment_name(const std::string& name, uint64_t segment_size, bool is_partial) {
  if (auto s = pg::parse_segment_name(name, segment_size))
    (is_partial ? partial : segments)[s->timeline].insert(s->segno);
}

pg::TimelineId newest_timeline(const WalArchive& a, pg::TimelineId from) {
  pg::TimelineId newest = from;
  while (a.histories.count(newest + 1)) ++newest;
  return newest;
}

std::vector<TimelineStep> timeline_path(const WalArchive& a, pg::TimelineId from) {
  const pg::TimelineId target = newest_timeline(a, from);
  if (target == from) return {{from, std::nullopt}};
  const auto& switches = a.histories.at(target).switches;
  if (std::none_of(switches.begin(), switches.end(),
                   [&](const auto& s) { return s.parent == from; }))
    return {{from, std::nullopt}};  // not a child of `from`: on_newest_history() says no
  std::vector<TimelineStep> path;
  bool on = false;
  for (const auto& s : a.histories.at(target).switches) {
    if (s.parent == from) on = true;
    if (on) path.push_back({s.parent, s.switchpoint});
  }
  path.push_back({target, std::nullopt});
  return path;
}

bool on_newest_history(const WalArchive& a, const BackupRecord& b) {
  const PgBackupInfo& p = *b.pg;
  if (newest_timeline(a, p.timeline) == p.timeline) return true;
  auto path = timeline_path(a, p.timeline);
  if (path.size() == 1) return false;  // the newest timeline does not descend from the backup's
  return p.stop_lsn <= *path.front().end;
}

namespace {

// The newest archived segment of a timeline (complete or partial), if any.
std::optional<uint64_t> newest_segment(const WalArchive& a, pg::TimelineId tli) {
  std::optional<uint64_t> out;
  for (const auto* m : {&a.segments, &a.partial}) {
    auto it = m->find(tli);
    if (it != m->end() && !it->second.empty())
      out = std::max(out.value_or(0), *it->second.rbegin());
  }
  return out;
}

}  // namespace

WalCoverage check_wal_chain(const WalArchive& a, const BackupRecord& b,
                            std::optional<pg::Lsn> until) {
  const PgBackupInfo& p = *b.pg;
  const uint64_t seg_size = p.segment_size;
  if (seg_size == 0 || (seg_size & (seg_size - 1)) != 0)
    throw Error(Errc::kCorrupt, "backup " + b.short_id() + " records a WAL segment size of " +
                                    std::to_string(seg_size));
  uint64_t seg = pg::segment_of(p.start_lsn, seg_size);
  auto path = timeline_path(a, p.timeline);
  WalCoverage out;
  for (size_t i = 0; i < path.size(); ++i) {
    auto [tli, end] = path[i];
    uint64_t last;
    if (end) {
      last = pg::segment_of(*end, seg_size);
    } else {
      last = newest_segment(a, tli).value_or(seg);
      if (until) last = std::max<uint64_t>(seg, pg::segment_of(*until, seg_size));
    }
    for (uint64_t s = seg; s <= last; ++s) {
      // The segment holding a switchpoint is also found under the child timeline's name.
      bool present = a.has(tli, s) || (end && s == last && a.has(path[i + 1].timeline, s));
      if (!present) {
        // Missing before the newest archived segment: a gap, where replay would stop early.
        std::string name = pg::SegmentName{tli, s}.str(seg_size);
        throw Error(Errc::kNotFound, "WAL segment " + name +
                                         " is missing from the repository: backup " + b.short_id() +
                                         " needs the WAL from " + p.start_lsn.str() +
                                         (until ? " to " + until->str() : std::string(" onwards")) +
                                         " (a gap in archiving?)");
      }
      out.covered = pg::Lsn{(s + 1) * seg_size};
    }
    seg = last;
    out.final_timeline = tli;
  }
  return out;
}

std::vector<std::string> WalRange::names() const {
  std::vector<std::string> out;
  for (uint64_t s = first; s <= last; ++s)
    out.push_back(pg::SegmentName{timeline, s}.str(segment_size));
  return out;
}

WalRange wal_needed(const PgBackupInfo& p) {
  if (p.segment_size == 0 || (p.segment_size & (p.segment_size - 1)) != 0)
    throw Error(Errc::kCorrupt,
                "a backup records a WAL segment size of " + std::to_string(p.segment_size));
  WalRange r{p.timeline, pg::segment_of(p.start_lsn, p.segment_size), 0, p.segment_size};
  r.last = p.stop_lsn.value > 0 ? (p.stop_lsn.value - 1) / p.segment_size : 0;
  r.last = std::max(r.last, r.first);
  return r;
}

}  // namespace sr::catalog

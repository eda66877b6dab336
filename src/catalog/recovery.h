// catalog/recovery.h: the decisions of a PostgreSQL restore, as pure functions on records.
//
// RecoveryTarget: what to recover to (end of the WAL, a time, an LSN, a transaction, a named
// restore point, or the end of the backup). parse_recovery_target() validates the user's text
// (Error{kUsage}).
//
// choose_backup(): the newest backup of the stanza that ended before the target:
//   time, LSN     stop time / stop LSN not after the target;
//   xid           the backup's snapshot at its stop (stop_xmax, stop_xip) still had the
//                 transaction in progress or not yet started; a 32-bit xid is taken in the epoch
//                 of that snapshot; backups without a snapshot are passed over;
//   name          with a mark (ops/pg_mark) recording the point's LSN: stop LSN not after it;
//                 without one: the earliest backup (replay finds the point);
//   immediate, latest   the newest backup.
// check_target_after_backup(): a time or LSN target before the backup's end (a backup given
// explicitly) is refused.
//
// WalArchive: a stanza's archived WAL as a value: complete segments and streamed partial ones by
// timeline, and timeline histories. timeline_path() is the path recovery follows from a timeline
// to the newest timeline (recovery_target_timeline = 'latest', newest_timeline());
// check_wal_chain() checks that the WAL from a backup's start is continuous through every switch up
// to the newest archived segment (or `until`), and names the first missing segment. wal_needed() is
// the WAL without which a backup cannot be restored at all (its start to its stop).
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/lsn.h"
#include "catalog/backup_record.h"
#include "catalog/timeline_history.h"

namespace sr::catalog {

enum class TargetKind { kLatest, kTime, kLsn, kXid, kName, kImmediate };

struct RecoveryTarget {
  TargetKind kind = TargetKind::kLatest;
  std::string value;  // as given (time text, LSN text, xid digits, point name)
  int64_t time_ns = 0;
  pg::Lsn lsn;
  uint64_t xid = 0;
  // kName: the LSN of the restore point when `strongroom mark` recorded it.
  std::optional<pg::Lsn> mark_lsn;
};

// kind: "" (latest), "time", "lsn", "xid", "name", "immediate". Throws Error{kUsage}.
TargetKind parse_target_kind(const std::string& kind);
RecoveryTarget parse_recovery_target(const std::string& kind, const std::string& value);
// The recovery.conf-style name of a kind ("" for latest).
std::string target_kind_name(TargetKind kind);

struct WalArchive;

// `backups`: any records; only the stanza's PostgreSQL backups are considered. With `archive`,
// only backups from which recovery can follow the newest timeline (recovery_target_timeline =
// 'latest') are: on that timeline, or on one of its ancestors and ended before the switchpoint
// where the history left it (see on_newest_history). Throws kNotFound when the stanza has none,
// none is on that history, or none ended before the target.
const BackupRecord& choose_backup(const std::vector<BackupRecord>& backups,
                                  const std::string& stanza, const RecoveryTarget& target,
                                  const WalArchive* archive = nullptr);
// The stanza's PostgreSQL backup `id` (full id); throws kUsage when there is none.
const BackupRecord& find_pg_backup(const std::vector<BackupRecord>& backups,
                                   const std::string& stanza, const std::string& id);
void check_target_after_backup(const BackupRecord& backup, const RecoveryTarget& target);

struct WalArchive {
  std::map<pg::TimelineId, std::set<uint64_t>> segments;  // complete, by timeline
  std::map<pg::TimelineId, std::set<uint64_t>> partial;   // streamed, not yet complete
  std::map<pg::TimelineId, pg::TimelineHistory> histories;
  bool has(pg::TimelineId tli, uint64_t segno) const;  // complete or partial
  // Adds a stored file by name: a segment, or nothing (history files come through histories).
  void add_segment_name(const std::string& name, uint64_t segment_size, bool is_partial);
};

// The timeline recovery_target_timeline = 'latest' leads to from `from`, as PostgreSQL finds it
// (findNewestTimeLine): the highest of from+1, from+2, … whose history file is archived, up to
// the first one that is not.
pg::TimelineId newest_timeline(const WalArchive& a, pg::TimelineId from);
// Whether replay from backup `b` can follow that newest timeline: `b` is on it, or on an
// ancestor that the history leaves after `b` ended. A backup on a timeline the newest one does
// not descend from, or taken on an ancestor after the fork, cannot (PostgreSQL refuses it:
// "requested timeline is not a child of this server's history").
bool on_newest_history(const WalArchive& a, const BackupRecord& b);

struct TimelineStep {
  pg::TimelineId timeline;
  std::optional<pg::Lsn> end;  // the switchpoint where recovery leaves it; none for the last
};
std::vector<TimelineStep> timeline_path(const WalArchive& archive, pg::TimelineId from);

struct WalCoverage {
  pg::Lsn covered;  // the end of the last segment the chain covers
  pg::TimelineId final_timeline = 1;
};
// Throws Error{kNotFound} naming the first missing segment; kCorrupt for a record whose
// segment size is not usable.
WalCoverage check_wal_chain(const WalArchive& archive, const BackupRecord& backup,
                            std::optional<pg::Lsn> until);

struct WalRange {
  pg::TimelineId timeline = 1;
  uint64_t first = 0, last = 0;  // segment numbers, inclusive
  uint64_t segment_size = pg::kDefaultSegmentSize;
  std::vector<std::string> names() const;
};
// The segments from the backup's start LSN to its stop LSN (the segment holding the last byte
// before stop_lsn, as pg_walfile_name names it) on the backup's timeline.
WalRange wal_needed(const PgBackupInfo& backup);

}  // namespace sr::catalog

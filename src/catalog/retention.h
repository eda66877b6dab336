// catalog/retention.h: which backups a retention rule keeps, and why (pure; no I/O).
//
// apply_retention() decides for the backups of one source (one group: a PostgreSQL stanza, a
// files source, a command source) under one rule (config::RetentionRule), at `now`:
//   - no rule at all: everything is kept ("no retention rule");
//   - a backup with a hold is kept ("hold");
//   - keep_tags: a backup carrying one of the tags; keep_within: started within the duration
//     before now; keep_last: the newest N; keep_hourly/daily/weekly/monthly/yearly: the newest
//     backup of each of the last N hours/days/ISO weeks (Monday)/months/years (UTC) that have one,
//     as restic's forget counts them;
//   - pitr_window (PostgreSQL): the newest full backup that ended at or before the window's
//     start (now - window), so that every point of the window can be recovered from it and the
//     WAL after it; when no full ended that early, the oldest full;
//   - what a kept backup needs is kept with it: a diff/incr keeps its chain down to its full
//     ("needed by <id>").
// Every decision carries its reasons; a removed backup says which rules it fell outside of.
// Backups are returned newest first. A damaged chain (a diff/incr whose parent is gone) keeps
// the backup and says so: nothing is removed on a guess.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "catalog/backup_record.h"
#include "config/config.h"

namespace sr::catalog {

struct RetentionDecision {
  std::string id;
  bool keep = true;
  std::vector<std::string> reasons;
};

std::vector<RetentionDecision> apply_retention(const std::vector<BackupRecord>& backups,
                                               const config::RetentionRule& rule, int64_t now_ns,
                                               const std::set<std::string>& held);

// The oldest WAL segment name (24 hex) any of `kept` PostgreSQL backups needs: the smallest
// start_wal by segment number. WAL of the stanza below it (on any timeline) serves no kept
// backup; nullopt when no PostgreSQL backup is kept (then no WAL of the stanza is known to be
// needed, and none may be removed on that ground).
std::optional<std::string> oldest_wal_needed(const std::vector<const BackupRecord*>& kept);

}  // namespace sr::catalog

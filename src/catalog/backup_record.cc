#include "catalog/backup_record.h"

#include <algorithm>
#include <map>
#include <set>
#include <tuple>

#include "base/error.h"

namespace sr::catalog {

std::string to_string(BackupKind kind) {
  switch (kind) {
    case BackupKind::kFiles:
      return "files";
    case BackupKind::kCommand:
      return "command";
    case BackupKind::kPostgres:
      return "postgres";
  }
  return "files";
}

BackupKind parse_backup_kind(const std::string& text, const std::string& what) {
  if (text == "files") return BackupKind::kFiles;
  if (text == "command") return BackupKind::kCommand;
  if (text == "postgres") return BackupKind::kPostgres;
  throw Error(Errc::kCorrupt,
              what + " is damaged: unknown backup type '" + text.substr(0, 40) + "'");
}

bool BackupRecord::is_full() const {
  return kind != BackupKind::kPostgres || (pg && pg->type == PgBackupType::kFull);
}

std::vector<BackupRecord> pg_backups_of(const std::vector<BackupRecord>& all,
                                        const std::string& stanza) {
  std::vector<BackupRecord> out;
  for (const auto& b : all)
    if (b.kind == BackupKind::kPostgres && b.pg && b.pg->stanza == stanza) out.push_back(b);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.pg->stop_time_ns < b.pg->stop_time_ns;
  });
  return out;
}

const BackupRecord* parent_for(const std::vector<BackupRecord>& backups, const std::string& stanza,
                               PgBackupType type) {
  if (type == PgBackupType::kFull) return nullptr;
  const BackupRecord* best = nullptr;
  for (const auto& b : backups) {
    if (b.kind != BackupKind::kPostgres || !b.pg || b.pg->stanza != stanza) continue;
    if (type == PgBackupType::kDiff && b.pg->type != PgBackupType::kFull) continue;
    if (!best || std::tie(b.start_ns, b.id) > std::tie(best->start_ns, best->id)) best = &b;
  }
  if (!best)
    throw Error(Errc::kNotFound, "a " + to_string(type) +
                                     " backup needs an earlier full backup of stanza '" + stanza +
                                     "'; take a full backup first");
  return best;
}

std::vector<const BackupRecord*> backup_chain(const std::vector<BackupRecord>& backups,
                                              const std::string& id) {
  std::map<std::string, const BackupRecord*> by_id;
  for (const auto& b : backups) by_id[b.id] = &b;
  std::vector<const BackupRecord*> chain;
  std::set<std::string> seen;
  std::string next = id;
  for (;;) {
    auto it = by_id.find(next);
    if (it == by_id.end()) {
      if (chain.empty()) throw Error(Errc::kNotFound, "no backup " + id);
      throw Error(Errc::kNotFound, "backup " + chain.back()->short_id() +
                                       " was taken against backup " + next.substr(0, 8) +
                                       ", which is missing: the chain of backup " +
                                       id.substr(0, 8) + " to its full backup is broken");
    }
    const BackupRecord* b = it->second;
    if (!seen.insert(b->id).second)
      throw Error(Errc::kCorrupt, "the parent links of backup " + id.substr(0, 8) +
                                      " form a cycle (through " + b->short_id() + ")");
    chain.push_back(b);
    if (b->kind == BackupKind::kPostgres && b->is_full()) return chain;
    if (b->parent.empty()) {
      if (!b->is_full())
        throw Error(Errc::kCorrupt, "backup " + b->short_id() + " is a " +
                                        (b->pg ? to_string(b->pg->type) : std::string("partial")) +
                                        " backup without a parent: the chain of backup " +
                                        id.substr(0, 8) + " has no full backup");
      return chain;
    }
    next = b->parent;
  }
}

}  // namespace sr::catalog

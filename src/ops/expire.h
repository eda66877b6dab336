// ops/expire.h: `strongroom expire`: removes from the catalog the backups that no retention rule
// keeps (catalog/retention.h decides; this applies it to a repository).
//
// For each source of the configuration that lives in the repository, the source's rule (its
// own, else its kind's) is applied to its backups (ops/sources.h) at `now`, with the holds of
// the repository and the --keep-tag tags. Backups of no configured source are never removed.
// Nothing is removed when any manifest cannot be read (kCorrupt) — a policy decided over a
// partial list could remove the full that a damaged incremental needs.
//
// A real run takes the exclusive lock, publishes a deletion record naming every manifest it is
// about to remove (so every client's rollback detection accepts them), then removes them. A crash
// leaves some of them: a later run removes the rest. Packs, index entries and WAL are not
// touched: `prune` frees what no kept backup references, and WAL older than each stanza's
// `oldest_wal_needed`.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/context.h"
#include "config/config.h"
#include "repo/repository.h"

namespace sr::ops {

struct ExpireOptions {
  const config::Config* config = nullptr;
  std::string repository = "primary";  // the configuration's name for `repo`
  std::vector<std::string> sources;    // only these sources (empty: all of the repository)
  std::vector<std::string> keep_tags;  // backups with one of these tags are kept
  int64_t now_ns = 0;
  bool dry_run = false;
  int lock_wait_seconds = 600;  // for the exclusive lock, while backups hold theirs
};

struct ExpireResult {
  struct Backup {
    std::string id, source, type;  // type: files | command | full | diff | incr
    int64_t time_ns = 0;
    uint64_t size = 0, added_size = 0;
    bool keep = true;
    std::vector<std::string> reasons;
  };
  std::vector<Backup> backups;  // by source (file order), newest first; unassigned last
  struct Wal {
    std::string source, stanza;
    std::optional<std::string> oldest_needed;  // WAL below this segment serves no kept backup
  };
  std::vector<Wal> wal;
  size_t kept = 0, removed = 0;
  bool dry_run = false;
  std::string deletion_record;  // the record's name ("" when nothing was removed)
  int64_t now_ns = 0;

  nlohmann::json to_json() const;
};

ExpireResult expire(repo::Repository& repo, const ExpireOptions& options, const OpContext& ctx);

}  // namespace sr::ops

// ops/pg_mark.h: named restore points across clusters ("marks").
//
// mark() connects to every given cluster first, then creates pg_create_restore_point(NAME) on
// all of them at the same moment (one thread each, released together), so several databases can
// later be restored to one consistent instant. Each restore point's LSN and time are recorded in
// the repository (marks/<stanza>/<name>, an envelope), which is how a restore to --target-name
// picks the newest backup that ended before the mark.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "base/lsn.h"
#include "repo/repository.h"

namespace sr::ops {

struct MarkTarget {
  std::string stanza, conninfo;
};

struct MarkRecord {
  std::string name, stanza, lsn, system_identifier;
  int64_t time_ns = 0;
};

std::vector<MarkRecord> mark(repo::Repository& repo, const std::string& name,
                             const std::vector<MarkTarget>& targets);
std::optional<MarkRecord> find_mark(repo::Repository& repo, const std::string& stanza,
                                    const std::string& name);

}  // namespace sr::ops

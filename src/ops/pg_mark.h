// ops/pg_mark.h: named restore points across clusters ("marks").
//
// mark() connects to every given cluster first, then creates pg_create_restore_point(NAME) on
// all of them at the same moment (one thread each, released together), so several databases can
// later be restored to one consistent instant. Each restore point's LSN and time are recorded in
// the repository (marks/<stanza>/<name>, an envelope), which is how a restore to --target-name
// picks the newest backup that ended before the mark.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "base/context.h"
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

struct MarkOptions {
  std::string name;
  std::vector<MarkTarget> targets;  // one per cluster
};

struct MarkResult {
  std::vector<MarkRecord> marks;  // in the order of the targets
  // What `mark --json` prints: [{name, stanza, lsn, time}, …].
  nlohmann::json to_json() const;
};

// Connecting checks cancellation between clusters; once every connection is open the restore
// points are created together and recorded (no cancellation in between: a half-made mark would
// not be one instant).
MarkResult mark(repo::Repository& repo, const MarkOptions& options, const OpContext& ctx);
std::optional<MarkRecord> find_mark(repo::Repository& repo, const std::string& stanza,
                                    const std::string& name);

}  // namespace sr::ops

#include "ops/expire.h"

#include <algorithm>
#include <set>

#include "base/time_util.h"
#include "catalog/retention.h"
#include "ops/lock_wait.h"
#include "ops/sources.h"
#include "repo/lock.h"

namespace sr::ops {

nlohmann::json ExpireResult::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (const auto& b : backups)
    list.push_back({{"id", b.id},
                    {"source", b.source},
                    {"type", b.type},
                    {"time", format_rfc3339(b.time_ns)},
                    {"size", b.size},
                    {"added_size", b.added_size},
                    {"action", b.keep ? "keep" : "remove"},
                    {"reasons", b.reasons}});
  nlohmann::json w = nlohmann::json::array();
  for (const auto& x : wal)
    w.push_back({{"source", x.source},
                 {"stanza", x.stanza},
                 {"oldest_needed",
                  x.oldest_needed ? nlohmann::json(*x.oldest_needed) : nlohmann::json(nullptr)}});
  return {{"dry_run", dry_run},
          {"now", format_rfc3339(now_ns)},
          {"kept", kept},
          {"removed", removed},
          {"deletion_record", deletion_record},
          {"backups", list},
          {"wal", w}};
}

namespace {

std::string type_of(const catalog::BackupRecord& b) {
  if (b.kind == catalog::BackupKind::kPostgres && b.pg) return catalog::to_string(b.pg->type);
  return catalog::to_string(b.kind);
}

}  // namespace

ExpireResult expire(repo::Repository& repo, const ExpireOptions& o, const OpContext& ctx) {
  if (o.config == nullptr) throw Error(Errc::kUsage, "expire needs a configuration file");
  for (const auto& name : o.sources) {
    const auto& s = o.config->source(name);  // throws naming the known sources
    if (s.repository != o.repository)
      throw Error(Errc::kUsage, "source " + name + " is kept in repository " + s.repository +
                                    ", not " + o.repository);
  }
  std::unique_ptr<repo::RepoLock> lock;
  if (!o.dry_run) lock = acquire_waiting(repo, "expire", true, o.lock_wait_seconds, ctx);

  ExpireResult r;
  r.dry_run = o.dry_run;
  r.now_ns = o.now_ns;
  auto records = all_backup_records(repo);
  auto holds = repo.list_holds();
  std::set<std::string> held;
  for (const auto& [id, j] : holds.holds) held.insert(id);
  for (const auto& [id, why] : holds.damaged) {
    held.insert(id);  // a hold that cannot be read still holds
    ctx.log().warn("expire", "the hold on " + id + " cannot be read (" + why + "); it still holds");
  }
  SourceAssignment groups = assign_backups(records, *o.config, o.repository);
  std::vector<std::string> remove;
  for (const auto& g : groups.sources) {
    bool chosen = o.sources.empty() ||
                  std::find(o.sources.begin(), o.sources.end(), g.source->name) != o.sources.end();
    if (!chosen) continue;
    ctx.check_cancelled();
    config::RetentionRule rule = o.config->retention_for(*g.source);
    if (rule.any())
      rule.keep_tags.insert(rule.keep_tags.end(), o.keep_tags.begin(), o.keep_tags.end());
    auto decisions = catalog::apply_retention(g.backups, rule, o.now_ns, held);
    std::vector<const catalog::BackupRecord*> kept;
    for (const auto& d : decisions) {
      const catalog::BackupRecord* b = nullptr;
      for (const auto& x : g.backups)
        if (x.id == d.id) b = &x;
      r.backups.push_back({d.id, g.source->name, type_of(*b), b->start_ns, b->size, b->added_size,
                           d.keep, d.reasons});
      if (d.keep) {
        kept.push_back(b);
        ++r.kept;
      } else {
        remove.push_back(d.id);
      }
    }
    if (g.source->type == config::SourceType::kPostgres)
      r.wal.push_back({g.source->name, g.source->stanza, catalog::oldest_wal_needed(kept)});
  }
  for (const auto& b : groups.unassigned) {
    r.backups.push_back({b.id,
                         "",
                         type_of(b),
                         b.start_ns,
                         b.size,
                         b.added_size,
                         true,
                         {"belongs to no configured source of repository " + o.repository}});
    ++r.kept;
  }
  // A kept backup keeps its chain whatever group its members fell into (a full taken with flags
  // and an incr taken with --source, a renamed source): chains are followed over all records.
  std::set<std::string> removing(remove.begin(), remove.end());
  for (const auto& b : r.backups) {
    if (!b.keep || (b.type != "diff" && b.type != "incr")) continue;  // only these need others
    try {
      for (const auto* member : catalog::backup_chain(records, b.id)) {
        if (member->id == b.id || !removing.erase(member->id)) continue;
        for (auto& x : r.backups)
          if (x.id == member->id) {
            x.keep = true;
            x.reasons.push_back("needed by " + b.id.substr(0, 8) + " (its chain)");
            ++r.kept;
          }
      }
    } catch (const Error&) {
      // A damaged chain was reported by the retention decision; nothing more to keep here.
    }
  }
  remove.assign(removing.begin(), removing.end());
  r.removed = remove.size();
  if (o.dry_run || remove.empty()) return r;

  r.deletion_record = repo.record_deletion("expire", remove, {});
  for (const auto& id : remove) {
    ctx.check_cancelled();
    repo.remove_manifest(id);
    ctx.log().info("expire", "removed backup " + id);
  }
  return r;
}

}  // namespace sr::ops

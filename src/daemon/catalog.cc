#include "daemon/catalog.h"

#include <algorithm>
#include <map>
#include <set>

#include "base/time_util.h"
#include "ops/sources.h"

namespace sr::daemon {
namespace {

std::string kind_of(const catalog::BackupRecord& b) {
  if (b.pg) return catalog::to_string(b.pg->type);
  return catalog::to_string(b.kind);
}

// Median of the previous sizes of the same source and type (the source's alerts.size_median_of,
// else the global one), for each backup.
void fill_size_medians(std::vector<BackupItem>& items, const config::Config& c) {
  std::map<std::string, std::vector<uint64_t>> seen;
  for (auto& b : items) {
    int n = c.alerts.size_median_of;
    for (const auto& s : c.sources)
      if (s.name == b.source && s.alerts.size_median_of) n = *s.alerts.size_median_of;
    auto& prev = seen[b.source + "\n" + b.type];
    if (prev.size() >= 3) {
      std::vector<uint64_t> last(prev.end() - std::min<size_t>(prev.size(), n), prev.end());
      std::sort(last.begin(), last.end());
      size_t m = last.size();
      b.size_median = m % 2 ? static_cast<double>(last[m / 2])
                            : (static_cast<double>(last[m / 2 - 1]) + last[m / 2]) / 2;
    }
    prev.push_back(b.size);
  }
}

// What a record says of itself; the caller names its source.
BackupItem item_of(const catalog::BackupRecord& r, const std::string& repository) {
  BackupItem b;
  b.id = r.id;
  b.stanza = r.pg ? r.pg->stanza : "";
  b.type = kind_of(r);
  b.host = r.host;
  b.repository = repository;
  b.start_ns = r.start_ns;
  b.end_ns = r.end_ns;
  b.size = r.size;
  b.added = r.added_size;
  b.files = r.file_count;
  b.tags = r.tags;
  return b;
}

uint64_t repository_bytes(repo::Repository& r) {
  uint64_t total = 0;
  for (auto kind : {repo::ObjectKind::kPack, repo::ObjectKind::kWal, repo::ObjectKind::kIndex,
                    repo::ObjectKind::kManifest, repo::ObjectKind::kRestoreTest})
    for (const auto& o : r.list_objects(kind)) total += o.size;
  return total;
}

}  // namespace

nlohmann::json BackupItem::to_json() const {
  nlohmann::json j = {{"id", id},
                      {"source", source},
                      {"stanza", stanza},
                      {"type", type},
                      {"kind", kind},
                      {"host", host},
                      {"repository", repository},
                      {"start", format_rfc3339(start_ns)},
                      {"end", format_rfc3339(end_ns)},
                      {"duration_s", static_cast<double>(end_ns - start_ns) / 1e9},
                      {"size_bytes", size},
                      {"added_bytes", added},
                      {"files", files},
                      {"tags", tags},
                      {"configured", configured},
                      {"size_median", nullptr}};
  if (size_median) j["size_median"] = *size_median;
  return j;
}

double RepositoryItem::estimated_monthly_cost() const {
  return static_cast<double>(size_bytes) / (1024.0 * 1024 * 1024) * cost_per_gib_month;
}

nlohmann::json RepositoryItem::to_json() const {
  nlohmann::json j = {{"name", name},
                      {"url", url},
                      {"backups", backups},
                      {"size_bytes", size_bytes},
                      {"cost_per_gib_month", cost_per_gib_month},
                      {"estimated_monthly_cost", estimated_monthly_cost()},
                      {"replicate_from",
                       replicate_from.empty() ? nlohmann::json() : nlohmann::json(replicate_from)},
                      {"replication_lag_s", nullptr}};
  if (replication_lag_s) j["replication_lag_s"] = *replication_lag_s;
  if (!error.empty()) j["error"] = error;
  return j;
}

const BackupItem* Snapshot::newest_backup(const std::string& source) const {
  const BackupItem* best = nullptr;
  for (const auto& b : backups)
    if (b.source == source && (!best || b.end_ns >= best->end_ns)) best = &b;
  return best;
}

const nlohmann::json* Snapshot::newest_restore_test(const std::string& source) const {
  for (auto it = restore_tests.rbegin(); it != restore_tests.rend(); ++it)
    if (it->value("source", "") == source) return &*it;
  return nullptr;
}

std::vector<std::string> Snapshot::other_sources() const {
  std::vector<std::string> out;
  std::set<std::string> seen;
  for (const auto& b : backups)
    if (!b.configured && seen.insert(b.source).second) out.push_back(b.source);
  return out;
}

const ops::SourceCheck* Snapshot::check(const std::string& source) const {
  for (const auto& c : checks)
    if (c.source == source) return &c;
  return nullptr;
}

std::shared_ptr<const Snapshot> build_snapshot(std::shared_ptr<const config::Config> config,
                                               const RepoOpener& open, int64_t now_ns,
                                               const OpContext& ctx) {
  const config::Config& c = *config;
  auto snap = std::make_shared<Snapshot>();
  snap->taken_ns = now_ns;
  double t0 = monotonic_seconds();
  std::map<std::string, std::set<std::string>> ids;  // repository → backup ids
  std::map<std::string, std::map<std::string, int64_t>> ends;
  for (const auto& [name, rc] : c.repositories) {
    ctx.check_cancelled();
    RepositoryItem item;
    item.name = name;
    item.url = rc.url;
    item.replicate_from = rc.replicate_from;
    item.cost_per_gib_month = rc.cost_per_gib_month;
    try {
      auto repo = open(config, name);
      auto records = ops::all_backup_records(*repo);
      item.backups = records.size();
      for (const auto& r : records) {
        ids[name].insert(r.id);
        ends[name][r.id] = r.end_ns;
      }
      // A replica's backups are its source repository's: counted, sized and compared for the
      // lag, not listed twice.
      const bool replica = !rc.replicate_from.empty();
      auto assigned = replica ? ops::SourceAssignment{} : ops::assign_backups(records, c, name);
      for (const auto& sb : assigned.sources)
        for (const auto& r : sb.backups) {
          BackupItem b = item_of(r, name);
          b.source = sb.source->name;
          b.stanza = r.pg ? sb.source->stanza : "";
          b.kind = sb.source->kind;
          snap->backups.push_back(std::move(b));
        }
      // Backups no source of this file claims: named as their maker named them.
      for (const auto& r : assigned.unassigned) {
        BackupItem b = item_of(r, name);
        b.source = !r.config_source.empty() ? r.config_source
                   : r.pg                   ? "stanza:" + r.pg->stanza
                   : !r.name.empty()        ? "command:" + r.name
                   : !r.paths.empty()       ? r.paths.front()
                                            : r.source;
        b.configured = false;
        snap->backups.push_back(std::move(b));
      }
      if (rc.replicate_from.empty()) {
        for (auto t : repo->list_restore_tests()) {
          t["repository"] = name;
          snap->restore_tests.push_back(std::move(t));
        }
        ops::SourceChecksOptions o;
        o.config = &c;
        o.repository = name;
        o.now_ns = now_ns;
        for (auto& chk : ops::check_sources(*repo, o, ctx)) snap->checks.push_back(std::move(chk));
      }
      item.size_bytes = repository_bytes(*repo);
    } catch (const Error& e) {
      item.error = e.what();
      snap->errors.push_back("repository " + name + ": " + e.what());
    }
    snap->repositories.push_back(std::move(item));
  }
  // Replication lag: how long the oldest backup of the source repository that the replica
  // lacks has been waiting (0 when it has them all).
  for (auto& item : snap->repositories) {
    if (item.replicate_from.empty() || !item.error.empty()) continue;
    if (!ends.count(item.replicate_from)) continue;
    double lag = 0;
    for (const auto& [id, end] : ends[item.replicate_from])
      if (!ids[item.name].count(id)) lag = std::max(lag, static_cast<double>(now_ns - end) / 1e9);
    item.replication_lag_s = lag;
  }
  std::stable_sort(snap->backups.begin(), snap->backups.end(),
                   [](const BackupItem& a, const BackupItem& b) { return a.end_ns < b.end_ns; });
  fill_size_medians(snap->backups, c);
  std::stable_sort(snap->restore_tests.begin(), snap->restore_tests.end(),
                   [](const nlohmann::json& a, const nlohmann::json& b) {
                     return a.value("started_ns", int64_t{0}) < b.value("started_ns", int64_t{0});
                   });
  snap->build_seconds = monotonic_seconds() - t0;
  return snap;
}

}  // namespace sr::daemon

#include "catalog/retention.h"

#include <algorithm>
#include <ctime>
#include <map>

#include "base/error.h"
#include "base/lsn.h"

namespace sr::catalog {
namespace {

constexpr int64_t kNs = 1'000'000'000;

struct Bucket {
  const char* name;
  int count;
  int64_t (*key)(int64_t unix_s);
};

int64_t civil(int64_t unix_s, bool months) {
  time_t t = static_cast<time_t>(unix_s);
  struct tm tm {};
  gmtime_r(&t, &tm);
  return months ? (tm.tm_year + 1900) * 12LL + tm.tm_mon : tm.tm_year + 1900;
}

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

}  // namespace

std::vector<RetentionDecision> apply_retention(const std::vector<BackupRecord>& backups,
                                               const config::RetentionRule& rule, int64_t now_ns,
                                               const std::set<std::string>& held) {
  std::vector<const BackupRecord*> order;
  for (const auto& b : backups) order.push_back(&b);
  std::stable_sort(order.begin(), order.end(), [](const BackupRecord* a, const BackupRecord* b) {
    return a->start_ns != b->start_ns ? a->start_ns > b->start_ns : a->id > b->id;
  });
  std::map<std::string, RetentionDecision> by_id;
  std::vector<RetentionDecision*> out;
  for (const BackupRecord* b : order) {
    auto& d = by_id[b->id];
    d.id = b->id;
    d.keep = false;
    out.push_back(&d);
  }
  auto keep = [&](const std::string& id, const std::string& why) {
    auto& d = by_id[id];
    d.keep = true;
    d.reasons.push_back(why);
  };

  if (!rule.any()) {
    for (auto* d : out) keep(d->id, "no retention rule");
  } else {
    for (const BackupRecord* b : order) {
      if (held.count(b->id)) keep(b->id, "hold");
      for (const auto& t : rule.keep_tags)
        if (std::find(b->tags.begin(), b->tags.end(), t) != b->tags.end()) keep(b->id, "tag " + t);
      if (rule.keep_within && b->start_ns >= now_ns - *rule.keep_within * kNs)
        keep(b->id, "within " + config::format_duration(*rule.keep_within));
    }
    for (size_t i = 0; i < order.size() && i < static_cast<size_t>(rule.keep_last); ++i)
      keep(order[i]->id, "last " + std::to_string(i + 1) + "/" + std::to_string(rule.keep_last));
    const Bucket buckets[] = {
        {"hourly", rule.keep_hourly, [](int64_t s) { return floor_div(s, 3600); }},
        {"daily", rule.keep_daily, [](int64_t s) { return floor_div(s, 86400); }},
        // 1970-01-01 was a Thursday: shifting by 3 days makes weeks start on Monday (ISO).
        {"weekly", rule.keep_weekly,
         [](int64_t s) { return floor_div(floor_div(s, 86400) + 3, 7); }},
        {"monthly", rule.keep_monthly, [](int64_t s) { return civil(s, true); }},
        {"yearly", rule.keep_yearly, [](int64_t s) { return civil(s, false); }},
    };
    for (const auto& bucket : buckets) {
      if (bucket.count <= 0) continue;
      int kept = 0;
      std::optional<int64_t> last;
      for (const BackupRecord* b : order) {
        if (kept >= bucket.count) break;
        int64_t key = bucket.key(floor_div(b->start_ns, kNs));
        if (last && *last == key) continue;
        last = key;
        ++kept;
        keep(b->id, std::string(bucket.name) + " " + std::to_string(kept) + "/" +
                        std::to_string(bucket.count));
      }
    }
    if (rule.pitr_window) {
      const int64_t window_start = now_ns - *rule.pitr_window * kNs;
      const BackupRecord* base = nullptr;
      const BackupRecord* oldest_full = nullptr;
      for (const BackupRecord* b : order) {  // newest first
        if (b->kind != BackupKind::kPostgres || !b->pg || !b->is_full()) continue;
        oldest_full = b;
        if (base == nullptr && b->pg->stop_time_ns <= window_start) base = b;
      }
      if (base == nullptr) base = oldest_full;
      if (base != nullptr)
        keep(base->id,
             "PITR window " + config::format_duration(*rule.pitr_window) + " starts from it");
    }
  }

  // A kept diff/incr keeps its chain. Walk newest first: a chain's members are older, so a
  // member kept here is visited later and keeps its own parents in turn.
  for (const BackupRecord* b : order) {
    auto& d = by_id[b->id];
    if (!d.keep || b->kind != BackupKind::kPostgres || b->is_full()) continue;
    try {
      auto chain = backup_chain(backups, b->id);
      for (size_t i = 1; i < chain.size(); ++i) {
        auto& p = by_id[chain[i]->id];
        std::string why = "needed by " + b->short_id() + " (its " +
                          (chain[i]->is_full() ? "full" : "parent") + ")";
        if (std::find(p.reasons.begin(), p.reasons.end(), why) == p.reasons.end()) {
          p.keep = true;
          p.reasons.push_back(why);
        }
      }
    } catch (const Error& e) {
      d.reasons.push_back(std::string("its chain is damaged: ") + e.what());
    }
  }

  std::vector<RetentionDecision> result;
  for (auto* d : out) {
    if (!d->keep) {
      std::string why = "no rule keeps it";
      std::vector<std::string> outside;
      if (rule.keep_within)
        outside.push_back("older than " + config::format_duration(*rule.keep_within));
      if (rule.keep_last) outside.push_back("not among the last " + std::to_string(rule.keep_last));
      if (!outside.empty()) {
        why += " (";
        for (size_t i = 0; i < outside.size(); ++i) why += (i ? ", " : "") + outside[i];
        why += ")";
      }
      d->reasons.push_back(why);
    }
    result.push_back(*d);
  }
  return result;
}

std::optional<std::string> oldest_wal_needed(const std::vector<const BackupRecord*>& kept) {
  std::optional<std::string> best;
  uint64_t best_segno = 0;
  for (const BackupRecord* b : kept) {
    if (b->kind != BackupKind::kPostgres || !b->pg) continue;
    auto w = pg::parse_segment_name(b->pg->start_wal, b->pg->segment_size);
    if (!w) return std::nullopt;  // cannot tell what it needs: remove no WAL on a guess
    if (!best || w->segno < best_segno) {
      best = b->pg->start_wal;
      best_segno = w->segno;
    }
  }
  return best;
}

}  // namespace sr::catalog

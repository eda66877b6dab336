// app/cmd_policy.cc: retention: `strongroom expire`, `strongroom hold` and `strongroom prune`.
#include <cstdio>
#include <iostream>
#include <optional>

#include "app/commands.h"
#include "app/common.h"
#include "app/terminal.h"
#include "base/time_util.h"
#include "ops/backup.h"
#include "ops/expire.h"
#include "ops/prune.h"
#include "repo/lock.h"

namespace sr::app {
namespace {

struct PruneArgs {
  RepoArgs repo;
  std::string grace, max_unused, now;
  int lock_wait = 600, crash_at = 0;
  bool dry_run = false;
};

ops::PruneOptions prune_options(const PruneArgs& a) {
  ops::PruneOptions o;
  if (a.repo.config) {
    o.grace_seconds = a.repo.config->prune_grace;
    o.max_unused = a.repo.config->prune_max_unused;
  }
  if (!a.grace.empty()) o.grace_seconds = config::parse_duration(a.grace);
  if (!a.max_unused.empty()) {
    std::string v = a.max_unused;
    bool pct = !v.empty() && v.back() == '%';
    if (pct) v.pop_back();
    char* end = nullptr;
    double x = std::strtod(v.c_str(), &end);
    if (v.empty() || *end != '\0' || x < 0 || (pct ? x > 100 : x > 1))
      throw Error(Errc::kUsage, "--max-unused takes a share such as 10% or 0.1");
    o.max_unused = pct ? x / 100 : x;
  }
  // The grace period runs on the real clock; --now / STRONGROOM_NOW only for a dry run.
  o.now_ns = a.dry_run ? clock_now_ns(a.now) : now_ns();
  if (!a.dry_run && !a.now.empty())
    throw Error(Errc::kUsage,
                "prune --now is for --dry-run only: the grace period runs on the "
                "real clock");
  o.lock_wait_seconds = a.lock_wait;
  o.dry_run = a.dry_run;
  o.crash_at = a.crash_at;
  return o;
}

void print_prune(const ops::PruneResult& r, const ops::PruneOptions& o) {
  std::printf("%s%llu backups reference %llu chunks; %llu packs, %s\n",
              r.dry_run ? "dry run: " : "", static_cast<unsigned long long>(r.backups),
              static_cast<unsigned long long>(r.live_chunks),
              static_cast<unsigned long long>(r.packs), human_bytes(r.pack_bytes).c_str());
  std::printf("unreferenced packs: %llu (%s); packs over %.0f%% unused: %llu (%s)\n",
              static_cast<unsigned long long>(r.dead_packs), human_bytes(r.dead_bytes).c_str(),
              o.max_unused * 100, static_cast<unsigned long long>(r.sparse_packs),
              human_bytes(r.sparse_bytes).c_str());
  if (r.waiting_packs || r.staging_waiting)
    std::printf("waiting for the grace period (%s): %llu packs (%s), %llu staging files\n",
                config::format_duration(o.grace_seconds).c_str(),
                static_cast<unsigned long long>(r.waiting_packs),
                human_bytes(r.waiting_bytes).c_str(),
                static_cast<unsigned long long>(r.staging_waiting));
  std::printf(
      "%s %llu packs (%s), repacked %llu (%s written)\n", r.dry_run ? "would remove" : "removed",
      static_cast<unsigned long long>(r.removed_packs), human_bytes(r.removed_pack_bytes).c_str(),
      static_cast<unsigned long long>(r.repacked_packs),
      human_bytes(r.repack_written_bytes).c_str());
  if (!r.dry_run) {
    std::printf(
        "index objects: %llu replaced by %llu; WAL files removed: %llu; staging files: %llu; "
        "stale locks: %llu\n",
        static_cast<unsigned long long>(r.index_objects_removed),
        static_cast<unsigned long long>(r.index_objects_written),
        static_cast<unsigned long long>(r.wal_removed),
        static_cast<unsigned long long>(r.staging_removed),
        static_cast<unsigned long long>(r.stale_locks_removed));
    for (const auto& f : r.wal_floors) std::printf("WAL kept from %s on\n", f.c_str());
    if (r.refused_deletes)
      std::printf("%llu deletes refused by the store (left for a later run)\n",
                  static_cast<unsigned long long>(r.refused_deletes));
    std::printf("freed %s\n", human_bytes(r.freed_bytes()).c_str());
  }
}

int run_prune(const PruneArgs& a) {
  ops::PruneOptions o = prune_options(a);
  auto repo = open_repo(a.repo);
  CommandRun run(true);
  ops::PruneResult r = ops::prune(*repo, o, run.ctx());
  if (a.repo.json)
    print_json(r.to_json());
  else
    print_prune(r, o);
  return 0;
}

struct ExpireArgs {
  RepoArgs repo;
  std::vector<std::string> keep_tags;
  std::string now;
  bool dry_run = false;
  int lock_wait = 600;
  bool prune = false;  // --prune: then prune, in the same process
  PruneArgs prune_args;
};

int run_expire(const ExpireArgs& a) {
  if (!a.repo.config)
    throw Error(Errc::kUsage,
                "expire applies the retention rules of a configuration file: give "
                "--config FILE (or set STRONGROOM_CONFIG)");
  ops::ExpireOptions o;
  o.config = a.repo.config.get();
  o.repository = a.repo.repository;
  if (!a.repo.source.empty()) o.sources = {a.repo.source};
  o.keep_tags = a.keep_tags;
  o.now_ns = clock_now_ns(a.now);
  o.dry_run = a.dry_run;
  o.lock_wait_seconds = a.lock_wait;
  auto repo = open_repo(a.repo);
  CommandRun run(true);
  ops::ExpireResult r = ops::expire(*repo, o, run.ctx());
  std::optional<ops::PruneResult> pr;
  ops::PruneOptions po;
  if (a.prune && !a.dry_run) {
    PruneArgs p = a.prune_args;
    p.repo = a.repo;
    po = prune_options(p);
    pr = ops::prune(*repo, po, run.ctx());
  }
  if (a.repo.json) {
    print_json(pr ? nlohmann::json{{"expire", r.to_json()}, {"prune", pr->to_json()}}
                  : r.to_json());
    return 0;
  }
  std::string current = "\x01";
  for (const auto& b : r.backups) {
    if (b.source != current) {
      current = b.source;
      std::printf("\n%s\n",
                  b.source.empty() ? "(no configured source)" : ("source " + b.source).c_str());
      std::printf("  %-8s %-20s %-7s %-7s %s\n", "ID", "TIME", "TYPE", "ACTION", "WHY");
    }
    std::string why;
    for (const auto& x : b.reasons) why += (why.empty() ? "" : "; ") + x;
    std::printf("  %-8s %-20s %-7s %-7s %s\n", b.id.substr(0, 8).c_str(),
                format_rfc3339(b.time_ns).c_str(), b.type.c_str(), b.keep ? "keep" : "remove",
                why.c_str());
  }
  for (const auto& w : r.wal)
    std::printf("\nWAL of %s (stanza %s): %s\n", w.source.c_str(), w.stanza.c_str(),
                w.oldest_needed ? ("segments before " + *w.oldest_needed +
                                   " serve no kept backup (prune removes them)")
                                      .c_str()
                                : "no kept backup: none is known to be unneeded");
  std::printf("\n%s%zu backups kept, %zu %s (now = %s)\n", r.dry_run ? "dry run: " : "", r.kept,
              r.removed, r.dry_run ? "would be removed" : "removed",
              format_rfc3339(r.now_ns).c_str());
  if (pr) {
    std::printf("\n");
    print_prune(*pr, po);
  } else if (!r.dry_run && r.removed) {
    std::printf("their data stays until `strongroom prune` frees what nothing references\n");
  }
  return 0;
}

struct HoldArgs {
  RepoArgs repo;
  std::string backup, reason;
  bool release = false, list = false;
};

int run_hold(const HoldArgs& a) {
  auto repo = open_repo(a.repo);
  if (a.list) {
    auto h = repo->list_holds();
    if (a.repo.json) {
      nlohmann::json j = nlohmann::json::array();
      for (const auto& [id, rec] : h.holds) j.push_back({{"backup", id}, {"hold", rec}});
      for (const auto& [id, why] : h.damaged) j.push_back({{"backup", id}, {"damaged", why}});
      print_json(j);
      return 0;
    }
    for (const auto& [id, rec] : h.holds)
      std::printf("%s  %s  %s\n", id.c_str(), rec.value("time", "").c_str(),
                  rec.value("reason", "").c_str());
    for (const auto& [id, why] : h.damaged)
      std::printf("%s  (hold unreadable, still holds: %s)\n", id.c_str(), why.c_str());
    std::printf("%zu holds\n", h.holds.size() + h.damaged.size());
    return 0;
  }
  if (a.backup.empty()) throw Error(Errc::kUsage, "give a backup id (or --list)");
  std::string id = repo->resolve_backup(a.backup);
  if (a.release) {
    bool removed = repo->remove_hold(id);
    if (a.repo.json)
      print_json({{"backup", id}, {"released", removed}});
    else
      std::printf(removed ? "hold on %s released\n" : "%s had no hold\n", id.c_str());
    return 0;
  }
  nlohmann::json rec = {{"backup", id},
                        {"reason", a.reason},
                        {"time_ns", now_ns()},
                        {"time", format_rfc3339(now_ns())},
                        {"host", ops::host_name()},
                        {"user", ops::user_name()}};
  {
    // A shared lock: expire (exclusive) either sees the hold or ran entirely before it.
    auto lock = repo::RepoLock::acquire(*repo, "hold", false);
    repo->resolve_backup(id);  // still there under the lock
    repo->save_hold(id, rec);
  }
  if (a.repo.json)
    print_json(rec);
  else
    std::printf("backup %s is held: expire keeps it until `strongroom hold --release %s`\n",
                id.c_str(), id.substr(0, 8).c_str());
  return 0;
}

}  // namespace

void add_policy_commands(CLI::App& app, int& result) {
  auto e = std::make_shared<ExpireArgs>();
  auto* expire = app.add_subcommand(
      "expire", "Remove the backups no retention rule keeps (--dry-run shows every decision)");
  add_repo_options(expire, e->repo, true);
  add_source_option(expire, e->repo);
  expire->add_option("--keep-tag", e->keep_tags, "Also keep backups with this tag (repeatable)");
  expire->add_flag("--dry-run,-n", e->dry_run, "Show what would be kept and removed, and why");
  expire->add_option("--lock-wait", e->lock_wait, "Seconds to wait for running backups")
      ->capture_default_str();
  expire->add_flag("--prune", e->prune, "Then prune (as `strongroom prune`), in the same run");
  expire->add_option("--grace", e->prune_args.grace, "With --prune: prune's --grace");
  expire->add_option("--max-unused", e->prune_args.max_unused,
                     "With --prune: prune's --max-unused");
  add_now_option(expire, e->now);
  expire->callback([e, &result] { result = run_expire(*e); });

  auto h = std::make_shared<HoldArgs>();
  auto* hold = app.add_subcommand(
      "hold", "Put a backup on hold (legal hold): expire never removes it until released");
  add_repo_options(hold, h->repo, true);
  hold->add_option("backup", h->backup, "The backup id (or a unique prefix, or latest)");
  hold->add_option("--reason", h->reason, "Why (recorded with the hold)");
  hold->add_flag("--release", h->release, "Release the hold instead");
  hold->add_flag("--list", h->list, "List the holds");
  hold->callback([h, &result] { result = run_hold(*h); });

  auto p = std::make_shared<PruneArgs>();
  auto* prune = app.add_subcommand(
      "prune", "Delete what no backup references (packs, index entries, old WAL, leftovers)");
  add_repo_options(prune, p->repo, true);
  prune->add_option("--grace", p->grace,
                    "Act only on what a run at least this long ago found unreferenced too "
                    "(default: the configuration's prune.grace, else 1h; 0: at once)");
  prune->add_option("--max-unused", p->max_unused,
                    "Repack packs with more than this share unused (default 10%)");
  prune
      ->add_option("--lock-wait", p->lock_wait,
                   "Seconds to wait for running backups before the final step")
      ->capture_default_str();
  prune->add_flag("--dry-run,-n", p->dry_run, "Show what would be done");
  prune->add_option("--test-crash-at", p->crash_at, "Tests only: die at step N of the sweep (1-6)")
      ->group("");  // hidden
  add_now_option(prune, p->now);
  prune->callback([p, &result] { result = run_prune(*p); });
}

}  // namespace sr::app

// app/cmd_verify.cc: `strongroom verify`.
#include <cstdio>
#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "app/terminal.h"
#include "base/time_util.h"
#include "config/schedule.h"
#include "ops/verify.h"

namespace sr::app {
namespace {

struct VerifyArgs {
  RepoArgs repo;
  bool read_data = false;
  bool accept_state = false;
  std::string subset, now;
};

// "5%" (a rotating slice: n = 100/5 slices, today's by the clock) or "K/N" (slice K of N).
void parse_subset(const std::string& text, int64_t now_ns, ops::VerifyOptions& o) {
  auto bad = [&] {
    throw Error(Errc::kUsage,
                "--read-data-subset takes a share such as 5% or a slice K/N such "
                "as 1/20, got '" +
                    text + "'");
  };
  auto number = [&](const std::string& t) -> uint32_t {
    if (t.empty() || t.size() > 6 || t.find_first_not_of("0123456789") != std::string::npos) bad();
    return static_cast<uint32_t>(std::stoul(t));
  };
  if (!text.empty() && text.back() == '%') {
    uint32_t pct = number(text.substr(0, text.size() - 1));
    if (pct == 0 || pct > 100) bad();
    o.subset_n = (100 + pct - 1) / pct;
    o.subset_k = static_cast<uint32_t>((now_ns / 1'000'000'000 / 86400) % o.subset_n) + 1;
    return;
  }
  size_t slash = text.find('/');
  if (slash == std::string::npos) bad();
  o.subset_k = number(text.substr(0, slash));
  o.subset_n = number(text.substr(slash + 1));
  if (o.subset_n == 0 || o.subset_k == 0 || o.subset_k > o.subset_n) bad();
}

void print_sources(const ops::VerifyReport& r) {
  if (r.sources.empty()) return;
  std::printf("%-16s %-9s %-8s %-22s %-9s %-22s %s\n", "SOURCE", "KIND", "STATE", "NEWEST BACKUP",
              "AGE", "PITR WINDOW FROM", "NEWEST WAL");
  const int64_t now = r.now_ns;
  for (const auto& s : r.sources) {
    std::string age = s.newest_backup_end_ns
                          ? config::format_duration((now - s.newest_backup_end_ns) / 1'000'000'000)
                          : "-";
    std::printf("%-16s %-9s %-8s %-22s %-9s %-22s %s\n", s.source.c_str(), s.kind.c_str(),
                s.ok() ? "ok" : "PROBLEM",
                s.newest_backup_end_ns ? format_rfc3339(s.newest_backup_end_ns).c_str() : "none",
                age.c_str(), s.window_start_ns ? format_rfc3339(s.window_start_ns).c_str() : "-",
                s.newest_wal_ns ? format_rfc3339(s.newest_wal_ns).c_str() : "-");
  }
}

void print_report(const ops::VerifyReport& r, bool read_data) {
  print_sources(r);
  std::cout << std::flush;
  for (const auto& p : r.problems) std::cout << "problem: " << p << "\n";
  if (!r.damaged_backups.empty()) {
    std::cout << "damaged backups:";
    for (const auto& id : r.damaged_backups) std::cout << " " << id;
    std::cout << "\n";
  }
  std::cout << (r.ok() ? "repository is sound: " : "repository has problems: ") << r.backups
            << " backups, " << r.packs << " packs, " << r.index_objects << " index objects";
  if (read_data)
    std::cout << ", " << r.chunks_checked << " chunks (" << human_bytes(r.bytes_read) << ") read"
              << (r.subset_n ? " (slice " + std::to_string(r.subset_k) + "/" +
                                   std::to_string(r.subset_n) + " of the packs)"
                             : std::string());
  if (r.unreferenced_packs)
    std::cout << ", " << r.unreferenced_packs
              << " unreferenced packs (leftovers; prune removes them)";
  std::cout << "\n";
  if (r.state_accepted) {
    for (const auto& m : r.rollback.messages()) std::cout << "accepted: " << m << "\n";
    std::cout << "client state accepted: later runs compare against the repository as it is now\n";
  }
}

int run_verify(const VerifyArgs& a) {
  auto repo = open_repo(a.repo);
  CommandRun run(true);
  ops::VerifyReport r;
  {
    ProgressLine progress("verify", run.counters(), !a.repo.json && a.read_data);
    ops::VerifyOptions o;
    o.read_data = a.read_data || !a.subset.empty();
    o.accept_state = a.accept_state;
    const int64_t now = clock_now_ns(a.now);
    if (!a.subset.empty()) parse_subset(a.subset, now, o);
    if (a.repo.config) {
      o.sources.config = a.repo.config.get();
      o.sources.repository = a.repo.repository;
      if (!a.repo.source.empty()) o.sources.sources = {a.repo.source};
      o.sources.now_ns = now;
    } else if (!a.repo.source.empty()) {
      throw Error(Errc::kUsage, "--source needs a configuration file (--config FILE)");
    }
    r = ops::verify(*repo, o, run.ctx());
    r.now_ns = now;
  }
  if (a.repo.json)
    print_json(r.to_json());
  else
    print_report(r, a.read_data || !a.subset.empty());
  return r.ok() ? 0 : 3;
}

}  // namespace

void add_verify_command(CLI::App& app, int& result) {
  auto a = std::make_shared<VerifyArgs>();
  auto* cmd = app.add_subcommand("verify", "Check the repository's structure (and data)");
  add_repo_options(cmd, a->repo, true);
  cmd->add_flag("--read-data", a->read_data, "Read and authenticate every chunk");
  cmd->add_flag("--accept-state", a->accept_state,
                "Accept the repository as it is now after a reported rollback (backups or index "
                "objects gone) was investigated: this client's state is replaced");
  cmd->add_option("--read-data-subset", a->subset,
                  "Read a slice of the packs: 5% (a different slice each day, so the whole "
                  "repository is read in a cycle) or K/N (slice K of N)");
  add_source_option(cmd, a->repo);
  add_now_option(cmd, a->now);
  cmd->footer(
      "With a configuration file, also each source of the repository (or --source NAME): the "
      "newest backup younger than verify.max_age, the newest WAL within verify.max_wal_lag (else "
      "the RPO), WAL continuous from every backup, and the point-in-time window against "
      "retention.pitr_window. Exit 0 only when everything holds; 3 otherwise.");
  cmd->callback([a, &result] { result = run_verify(*a); });
}

}  // namespace sr::app

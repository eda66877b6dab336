// app/cmd_verify.cc: `strongroom verify`.
#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "app/terminal.h"
#include "ops/verify.h"

namespace sr::app {
namespace {

struct VerifyArgs {
  RepoArgs repo;
  bool read_data = false;
  bool accept_state = false;
};

void print_report(const ops::VerifyReport& r, bool read_data) {
  for (const auto& p : r.problems) std::cout << "problem: " << p << "\n";
  if (!r.damaged_backups.empty()) {
    std::cout << "damaged backups:";
    for (const auto& id : r.damaged_backups) std::cout << " " << id;
    std::cout << "\n";
  }
  std::cout << (r.ok() ? "repository is sound: " : "repository has problems: ") << r.backups
            << " backups, " << r.packs << " packs, " << r.index_objects << " index objects";
  if (read_data)
    std::cout << ", " << r.chunks_checked << " chunks (" << human_bytes(r.bytes_read) << ") read";
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
    r = ops::verify(*repo, {a.read_data, a.accept_state}, run.ctx());
  }
  if (a.repo.json)
    print_json(r.to_json());
  else
    print_report(r, a.read_data);
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
  cmd->callback([a, &result] { result = run_verify(*a); });
}

}  // namespace sr::app

// app/cmd_repair.cc: `strongroom repair index`.
#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "app/terminal.h"
#include "ops/repair.h"

namespace sr::app {
namespace {

void print_report(const ops::RepairIndexReport& r) {
  for (const auto& d : r.damaged_packs) std::cout << "damaged pack left out: " << d << "\n";
  if (r.missing_pack_count)
    std::cout << r.missing_pack_count
              << " pack(s) the old index named are gone; backups that used them are reported "
                 "damaged by `strongroom verify`\n";
  std::cout << "index rebuilt from " << r.packs << " packs (" << r.blobs
            << " chunks): " << r.index_objects_written << " index objects written, "
            << r.index_objects_removed << " old ones removed\n";
}

int run_repair_index(const RepoArgs& a) {
  auto repo = open_repo(a);
  CommandRun run(true);
  ops::RepairIndexReport r;
  {
    ProgressLine progress("repair index", run.counters(), !a.json);
    r = ops::repair_index(*repo, run.ctx());
  }
  if (a.json)
    print_json(r.to_json());
  else
    print_report(r);
  return 0;
}

}  // namespace

void add_repair_commands(CLI::App& app, int& result) {
  auto* repair = app.add_subcommand("repair", "Repair repository metadata");
  repair->require_subcommand(1);
  auto a = std::make_shared<RepoArgs>();
  auto* index = repair->add_subcommand(
      "index",
      "Rebuild the index from the packs (under an exclusive lock): new index objects are "
      "written first, the old ones removed after; chunks whose pack is gone stay gone");
  add_repo_options(index, *a, true);
  index->callback([a, &result] { result = run_repair_index(*a); });
}

}  // namespace sr::app

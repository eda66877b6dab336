// app/cmd_proof.cc: `strongroom restore-test`: restore a configured source into a scratch place,
// validate it, measure the RTO, store the result (ops/restore_proof.h); --list shows the results.
#include <cstdio>
#include <cstdlib>
#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "app/storage_env.h"
#include "app/terminal.h"
#include "base/time_util.h"
#include "ops/restore_proof.h"

namespace sr::app {
namespace {

struct ProofArgs {
  RepoArgs repo;
  std::string target_time, scratch, run_as, pg_bin, now;
  bool random_point = false, immediate = false, keep = false, list = false;
  uint64_t seed = 0;
};

int run_list(const ProofArgs& a) {
  auto repo = open_repo(a.repo);
  auto results = repo->list_restore_tests();
  if (a.repo.json) {
    print_json(results);
    return 0;
  }
  std::printf("%-20s %-16s %-9s %-8s %-10s %s\n", "STARTED", "SOURCE", "TARGET", "RESULT", "RTO",
              "BACKUP");
  for (const auto& r : results) {
    if (!a.repo.source.empty() && r.value("source", "") != a.repo.source) continue;
    std::printf("%-20s %-16s %-9s %-8s %-10s %s\n", r.value("started", "").c_str(),
                r.value("source", "").c_str(), r.value("target", "").c_str(),
                r.value("passed", false) ? "passed" : "FAILED",
                human_duration(r.value("rto_seconds", 0.0)).c_str(),
                r.value("backup", "").substr(0, 8).c_str());
  }
  return 0;
}

int run_proof(const ProofArgs& a) {
  if (a.list) return run_list(a);
  if (!a.repo.config)
    throw Error(Errc::kUsage,
                "restore-test tests a source of a configuration file: give --config "
                "FILE and --source NAME");
  const auto& source = need_source(a.repo, "restore-test");
  if ((!a.target_time.empty()) + a.random_point + a.immediate > 1)
    throw Error(Errc::kUsage, "give at most one of --target-time, --random-point, --immediate");
  ops::RestoreTestOptions o;
  o.config = a.repo.config.get();
  o.repository = a.repo.repository;
  o.source = source.name;
  o.target_time = a.target_time;
  if (!o.target_time.empty()) o.target_time = format_rfc3339(parse_rfc3339(o.target_time));
  o.random_point = a.random_point;
  o.immediate = a.immediate;
  o.keep = a.keep;
  o.random_seed = a.seed;
  o.now_ns = clock_now_ns(a.now);
  if (!a.scratch.empty()) {
    o.scratch_parent = absolute_path(a.scratch);
  } else if (std::string t = env("TMPDIR"); !t.empty()) {
    o.scratch_parent = t;
  }
  o.server_os_user = a.run_as;
  o.pg_bin = a.pg_bin;
  set_restore_command_settings(a.repo, o);
  auto repo = open_repo(a.repo);
  CommandRun run(true);
  ops::RestoreTestResult r = ops::restore_test(*repo, o, run.ctx());
  if (a.repo.json) {
    print_json(r.to_json());
  } else {
    std::printf("restore test of %s (%s): backup %s, target %s%s\n", r.source.c_str(),
                r.kind.c_str(), r.backup_id.empty() ? "-" : r.backup_id.substr(0, 8).c_str(),
                r.target.c_str(), r.target_time.empty() ? "" : (" " + r.target_time).c_str());
    for (const auto& v : r.validations)
      std::printf("  %-6s %s: expected %s, got %s%s%s\n", v.passed ? "ok" : "FAIL", v.name.c_str(),
                  v.expect.c_str(), v.got.empty() ? "-" : v.got.c_str(),
                  v.source_value.empty() ? "" : (" (source: " + v.source_value + ")").c_str(),
                  v.error.empty() ? "" : (" — " + v.error).c_str());
    std::printf("  restored %llu files (%s); RTO %s%s\n", static_cast<unsigned long long>(r.files),
                human_bytes(r.bytes).c_str(), human_duration(r.rto_seconds).c_str(),
                r.rto_target_s
                    ? (" (target " + config::format_duration(*r.rto_target_s) + ")").c_str()
                    : "");
    if (!r.error.empty()) std::printf("  error: %s\n", r.error.c_str());
    if (!r.scratch.empty()) std::printf("  kept in %s\n", r.scratch.c_str());
    std::printf("%s (result %s stored)\n", r.passed ? "PASSED" : "FAILED",
                r.stored_as.substr(0, 8).c_str());
  }
  return r.passed ? 0 : 3;
}

}  // namespace

void add_proof_command(CLI::App& app, int& result) {
  auto a = std::make_shared<ProofArgs>();
  auto* cmd = app.add_subcommand(
      "restore-test",
      "Restore a configured source into a scratch place, validate the data, measure the RTO");
  add_repo_options(cmd, a->repo, true);
  add_source_option(cmd, a->repo);
  cmd->add_option("--target-time", a->target_time, "PostgreSQL: recover to this time");
  cmd->add_flag("--random-point", a->random_point,
                "PostgreSQL: recover to a random point of the PITR window");
  cmd->add_flag("--immediate", a->immediate,
                "PostgreSQL: recover only to the backup's end (row counts are compared too)");
  cmd->add_option("--seed", a->seed, "Seed of --random-point (to repeat a test)");
  cmd->add_flag("--keep", a->keep, "Keep the scratch directory (the server is stopped)");
  cmd->add_option("--scratch", a->scratch,
                  "Where the scratch directory goes (default TMPDIR or /var/tmp)");
  cmd->add_option("--run-as", a->run_as,
                  "As root: the OS user the scratch server runs as (default: the owner of the "
                  "source's pg_data)");
  cmd->add_option("--pg-bin", a->pg_bin,
                  "PostgreSQL binaries (default: those of the backup's version)");
  cmd->add_flag("--list", a->list, "List the stored results (of --source, if given)");
  add_now_option(cmd, a->now);
  cmd->footer(
      "Exit 0 when every validation passed within the RTO, 3 when the test failed (the "
      "result is stored either way).");
  cmd->callback([a, &result] { result = run_proof(*a); });
}

}  // namespace sr::app

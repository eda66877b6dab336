// app/cmd_replicate.cc: `strongroom replicate --from --to`.
#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "app/storage_env.h"
#include "app/terminal.h"
#include "base/time_util.h"
#include "ops/replicate.h"

namespace sr::app {
namespace {

struct ReplicateArgs {
  RepoArgs repo;
  std::string to, to_repository;
  bool dry_run = false;
};

int run_replicate(const ReplicateArgs& a) {
  auto source = open_repo(a.repo);
  if (a.to.empty() == a.to_repository.empty())
    throw Error(Errc::kUsage, "give the replica: --to URL or --to-repository NAME");
  const config::RepositoryConfig* to_config = nullptr;
  if (!a.to_repository.empty()) {
    if (!a.repo.config)
      throw Error(Errc::kUsage, "--to-repository needs a configuration file (--config FILE)");
    to_config = &a.repo.config->repository(a.to_repository);
  }
  auto target = to_config ? open_storage_from_env(to_config->url, to_config->ca_file, to_config)
                          : open_storage_from_env(a.to, a.repo.ca_file);
  CommandRun run(true);
  ops::ReplicateOptions o;
  o.dry_run = a.dry_run;
  ops::ReplicateResult r;
  {
    ProgressLine progress("replicate", run.counters(), !a.repo.json && !a.dry_run);
    r = ops::replicate(*source, *target, o, run.ctx());
  }
  double seconds = r.seconds;
  double age = r.newest_missing_backup_age_seconds();
  if (a.repo.json) {
    print_json(r.to_json());
    return 0;
  }
  std::cout << (a.dry_run ? "lag: " : "replicated: ") << r.missing_objects << " objects, "
            << human_bytes(r.missing_bytes) << " missing from " << target->describe();
  if (r.newest_missing_backup_ns)
    std::cout << " (newest unreplicated backup ended " << human_duration(age) << " ago)";
  std::cout << "\n";
  if (!a.dry_run)
    std::cout << "copied " << r.copied_objects << " objects, " << human_bytes(r.copied_bytes)
              << " in " << human_duration(seconds) << (r.created ? " (new replica)" : "") << "\n";
  return 0;
}

}  // namespace

void add_replicate_command(CLI::App& app, int& result) {
  auto a = std::make_shared<ReplicateArgs>();
  auto* cmd = app.add_subcommand(
      "replicate",
      "Copy what a replica lacks (another disk, region or backend), authenticating every object");
  add_repo_options(cmd, a->repo, true);
  cmd->add_option("--from", a->repo.repo, "Source repository URL (same as --repo)");
  cmd->add_option("--to", a->to, "Replica URL (empty, or a replica of the source)");
  cmd->add_option("--to-repository", a->to_repository,
                  "The replica as a repository of the configuration file (its URL and "
                  "credentials)");
  cmd->add_flag("--dry-run", a->dry_run,
                "Only report the lag: objects and bytes the replica lacks");
  cmd->callback([a, &result] { result = run_replicate(*a); });
}

}  // namespace sr::app

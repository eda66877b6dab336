// app/cmd_init.cc: `strongroom init`.
#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "app/storage_env.h"

namespace sr::app {
namespace {

struct InitArgs {
  RepoArgs repo;
  int level = 3;
};

int run_init(const InitArgs& a) {
  std::string url = repo_url(a.repo);
  std::string pw = repo_password(a.repo, "New repository password: ", true);
  repo::InitOptions opts;
  opts.compression_level = a.level;
  std::string id = repo::Repository::init(
      *open_storage_from_env(url, a.repo.ca_file, a.repo.repo_config), pw, opts);
  if (a.repo.json)
    print_json({{"id", id}, {"repository", url}});
  else
    std::cout << "created repository " << id << " at " << url
              << "\nKeep the password safe: without it the backups cannot be read.\n";
  return 0;
}

}  // namespace

void add_init_command(CLI::App& app, int& result) {
  auto a = std::make_shared<InitArgs>();
  auto* cmd = app.add_subcommand("init", "Create a new repository");
  add_repo_options(cmd, a->repo, true);
  cmd->add_option("--compression-level", a->level, "zstd level for this repository (0 = none)")
      ->check(CLI::Range(-7, 19));
  cmd->callback([a, &result] { result = run_init(*a); });
}

}  // namespace sr::app

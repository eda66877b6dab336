// app/cmd_key.cc: `strongroom key add|list|remove|rotate|upgrade|export-writer` (password and
// key-file slots, key generations, writer key files) and `strongroom unlock` (stale locks).
#include <cstdio>
#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "app/terminal.h"
#include "base/time_util.h"
#include "ops/keys.h"
#include "repo/lock.h"

namespace sr::app {
namespace {

struct KeyArgs {
  RepoArgs repo;
  std::string new_key_file, id, to;
  bool rotate = false;
};

int run_key_add(const KeyArgs& a) {
  auto repo = open_repo(a.repo);
  ops::AddKeyOptions o;
  o.new_key_file = a.new_key_file;
  if (a.new_key_file.empty())
    o.password = read_password("STRONGROOM_NEW", "New password for the key slot: ", true);
  CommandRun run;
  ops::AddKeyResult r = ops::add_key(*repo, o, run.ctx());
  if (a.repo.json)
    print_json(r.to_json());
  else if (!r.key_file.empty())
    std::cout << "added key slot " << r.id << ", opened by the key file " << r.key_file
              << " (keep it secret: it opens the repository)\n";
  else
    std::cout << "added key slot " << r.id << "\n";
  return 0;
}

int run_key_list(const KeyArgs& a) {
  auto repo = open_repo(a.repo);
  CommandRun run;
  ops::ListKeysResult r = ops::list_keys(*repo, run.ctx());
  if (a.repo.json) {
    print_json(r.to_json());
    return 0;
  }
  std::printf("key generation %u\n", r.generation);
  std::printf("  %-32s %-20s %-6s %s\n", "ID", "CREATED", "FORMAT", "USER@HOST");
  for (const auto& s : r.slots)
    std::printf("%s %-32s %-20s %-6s %s@%s\n", s.id == r.current ? "*" : " ", s.id.c_str(),
                format_rfc3339(s.created_ns).c_str(), s.version == 2 ? "ring" : "old",
                s.user.c_str(), s.host.c_str());
  return 0;
}

int run_key_remove(const KeyArgs& a) {
  auto repo = open_repo(a.repo);
  CommandRun run;
  ops::RemoveKeyResult r = ops::remove_key(*repo, a.id, run.ctx(), a.rotate);
  if (a.repo.json) {
    print_json(r.to_json());
    return 0;
  }
  std::cout << "removed key slot " << r.removed << "\n";
  if (r.generation)
    std::cout << "rotated the keys: data written from now on uses key generation " << *r.generation
              << "\n";
  return 0;
}

int run_key_rotate(const KeyArgs& a) {
  auto repo = open_repo(a.repo);
  CommandRun run;
  ops::RotateKeysResult r = ops::rotate_keys(*repo, run.ctx());
  if (a.repo.json)
    print_json(r.to_json());
  else
    std::cout << "rotated the keys: data written from now on uses key generation " << r.generation
              << " (" << r.slots << " key slot(s) re-keyed)\n";
  return 0;
}

int run_key_upgrade(const KeyArgs& a) {
  auto repo = open_repo(a.repo);
  CommandRun run;
  ops::UpgradeKeyResult r = ops::upgrade_key(*repo, run.ctx());
  if (a.repo.json)
    print_json(r.to_json());
  else
    std::cout << "key slot " << r.slot
              << (r.upgraded ? " is now a ring slot\n" : " already is a ring slot\n");
  return 0;
}

int run_key_export_writer(const KeyArgs& a) {
  auto repo = open_repo(a.repo);
  CommandRun run;
  ops::ExportWriterResult r = ops::export_writer(*repo, a.to, run.ctx());
  if (a.repo.json)
    print_json(r.to_json());
  else
    std::cout << "wrote the writer key file " << r.path << " (key generation " << r.generation
              << "): use it as --key-file on backup hosts; it can back up and archive WAL but "
                 "not restore or read backups\n";
  return 0;
}

int run_unlock(const RepoArgs& a) {
  auto repo = open_repo(a);
  size_t n = repo::RepoLock::remove_stale(*repo);
  std::cout << "removed " << n << " stale locks\n";
  return 0;
}

}  // namespace

void add_key_commands(CLI::App& app, int& result) {
  auto a = std::make_shared<KeyArgs>();
  auto* key = app.add_subcommand(
      "key", "Manage the key slots (passwords, key files), key rotation and writer key files");
  key->require_subcommand(1);
  auto* add = key->add_subcommand("add",
                                  "Add a key slot (new password from STRONGROOM_NEW_PASSWORD_FILE, "
                                  "STRONGROOM_NEW_PASSWORD or a prompt)");
  add_repo_options(add, a->repo, true);
  add->add_option(
      "--new-key-file", a->new_key_file,
      "Create this key file (random, mode 0600) and a slot it opens, instead of a password slot");
  add->callback([a, &result] { result = run_key_add(*a); });
  auto* list = key->add_subcommand("list", "List the key slots");
  add_repo_options(list, a->repo, true);
  list->callback([a, &result] { result = run_key_list(*a); });
  auto* remove = key->add_subcommand("remove", "Remove a key slot");
  add_repo_options(remove, a->repo, true);
  remove->add_option("id", a->id, "The key slot id")->required();
  remove->add_flag("--rotate", a->rotate,
                   "Then rotate the keys, so the removed password cannot read what is written "
                   "from now on");
  remove->callback([a, &result] { result = run_key_remove(*a); });
  auto* rotate = key->add_subcommand(
      "rotate",
      "New keys for everything written from now on (old backups stay readable); re-keys every "
      "key slot without its password. Old-format slots must be upgraded or removed first");
  add_repo_options(rotate, a->repo, true);
  rotate->callback([a, &result] { result = run_key_rotate(*a); });
  auto* upgrade = key->add_subcommand(
      "upgrade",
      "Rewrite the key slot of this password or key file in the ring format (needed before "
      "rotation; older strongroom versions cannot open the repository afterwards)");
  add_repo_options(upgrade, a->repo, true);
  upgrade->callback([a, &result] { result = run_key_upgrade(*a); });
  auto* exp = key->add_subcommand(
      "export-writer",
      "Write a write-only key file for backup hosts (--key-file): it backs up and archives WAL "
      "but cannot restore or read any backup. On first use the repository gets a restore key "
      "pair and all writers seal new data to it");
  add_repo_options(exp, a->repo, true);
  exp->add_option("--to", a->to, "The file to create (mode 0600; never overwritten)")->required();
  exp->callback([a, &result] { result = run_key_export_writer(*a); });

  auto u = std::make_shared<RepoArgs>();
  auto* unlock = app.add_subcommand("unlock", "Remove stale locks (of processes that are gone)");
  add_repo_options(unlock, *u, false);
  unlock->callback([u, &result] { result = run_unlock(*u); });
}

}  // namespace sr::app

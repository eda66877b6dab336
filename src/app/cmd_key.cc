// app/cmd_key.cc: `strongroom key add|list|remove` (password and key-file slots) and
// `strongroom unlock` (stale locks).
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "app/terminal.h"
#include "base/fs.h"
#include "base/time_util.h"
#include "repo/lock.h"

namespace sr::app {
namespace {

struct KeyArgs {
  RepoArgs repo;
  std::string new_key_file, id;
};

int add_key_file_slot(const KeyArgs& a, repo::Repository& repo) {
  std::string secret = repo::generate_key_file_secret();
  Fd fd(::open(a.new_key_file.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd)
    throw_errno("cannot create the key file " + a.new_key_file +
                (errno == EEXIST ? " (it must not exist yet)" : ""));
  write_all(fd.get(), as_bytes(secret + "\n"), a.new_key_file);
  if (::fsync(fd.get()) != 0) throw_errno("cannot fsync " + a.new_key_file);
  std::string id;
  try {
    id = repo::add_key_slot(repo.storage(), repo.keys(), repo::Credential{secret, true});
  } catch (...) {
    ::unlink(a.new_key_file.c_str());
    throw;
  }
  if (a.repo.json)
    print_json({{"id", id}, {"key_file", a.new_key_file}});
  else
    std::cout << "added key slot " << id << ", opened by the key file " << a.new_key_file
              << " (keep it secret: it opens the repository)\n";
  return 0;
}

int run_key_add(const KeyArgs& a) {
  auto repo = open_repo(a.repo);
  if (!a.new_key_file.empty()) return add_key_file_slot(a, *repo);
  std::string pw = read_password("STRONGROOM_NEW", "New password for the key slot: ", true);
  std::string id = repo::add_key_slot(repo->storage(), repo->keys(), pw);
  if (a.repo.json)
    print_json({{"id", id}});
  else
    std::cout << "added key slot " << id << "\n";
  return 0;
}

int run_key_list(const KeyArgs& a) {
  auto repo = open_repo(a.repo);
  auto slots = repo::list_key_slots(repo->storage());
  if (a.repo.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& s : slots)
      arr.push_back({{"id", s.id},
                     {"created", format_rfc3339(s.created_ns)},
                     {"host", s.host},
                     {"user", s.user},
                     {"current", s.id == repo->opened_slot()}});
    print_json(arr);
    return 0;
  }
  std::printf("  %-32s %-20s %s\n", "ID", "CREATED", "USER@HOST");
  for (const auto& s : slots)
    std::printf("%s %-32s %-20s %s@%s\n", s.id == repo->opened_slot() ? "*" : " ", s.id.c_str(),
                format_rfc3339(s.created_ns).c_str(), s.user.c_str(), s.host.c_str());
  return 0;
}

int run_key_remove(const KeyArgs& a) {
  auto repo = open_repo(a.repo);
  auto lock = repo::RepoLock::acquire(*repo, "key remove", true);
  auto slots = repo::list_key_slots(repo->storage());
  bool found = std::any_of(slots.begin(), slots.end(), [&](const auto& s) { return s.id == a.id; });
  if (!found) throw Error(Errc::kNotFound, "no key slot " + a.id);
  if (slots.size() <= 1) throw Error(Errc::kUsage, "refusing to remove the last key slot");
  if (a.id == repo->opened_slot())
    throw Error(
        Errc::kUsage,
        "refusing to remove the key slot of the password in use; open with another password first");
  repo->storage().remove("keys/" + a.id);
  if (a.repo.json)
    print_json({{"removed", a.id}});
  else
    std::cout << "removed key slot " << a.id << "\n";
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
  auto* key = app.add_subcommand("key", "Manage the password key slots");
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
  remove->callback([a, &result] { result = run_key_remove(*a); });

  auto u = std::make_shared<RepoArgs>();
  auto* unlock = app.add_subcommand("unlock", "Remove stale locks (of processes that are gone)");
  add_repo_options(unlock, *u, false);
  unlock->callback([u, &result] { result = run_unlock(*u); });
}

}  // namespace sr::app

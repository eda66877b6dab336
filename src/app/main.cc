// app/main.cc: the strongroom command line. Parses options (CLI11), opens the repository with
// the capability each command needs, calls one ops:: function and prints the result. The only
// place where an Error becomes an exit code.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>

#include "app/terminal.h"
#include "base/time_util.h"
#include "ops/backup.h"
#include "ops/restore.h"
#include "ops/verify.h"
#include "repo/lock.h"

using nlohmann::json;
namespace sr::app {
namespace {

struct Common {
  std::string repo;
  bool json = false;
};

std::string repo_url(const Common& c) {
  if (!c.repo.empty()) return c.repo;
  if (const char* r = std::getenv("STRONGROOM_REPOSITORY"); r && *r) return r;
  throw Error(Errc::kUsage, "no repository given: use --repo URL or set STRONGROOM_REPOSITORY");
}

std::unique_ptr<repo::Repository> open_repo(const Common& c) {
  std::string url = repo_url(c);
  std::string pw = read_password("STRONGROOM", "Repository password: ", false);
  return repo::Repository::open(url, pw);
}

void add_repo_option(CLI::App* cmd, Common& c, bool with_json) {
  cmd->add_option("--repo,-r", c.repo,
                  "Repository URL: a path or file:///path (env STRONGROOM_REPOSITORY)");
  if (with_json) cmd->add_flag("--json", c.json, "Print machine-readable JSON");
}

void print_json(const json& j) { std::cout << j.dump(2) << std::endl; }

int cmd_init(const Common& c, int level) {
  std::string url = repo_url(c);
  std::string pw = read_password("STRONGROOM", "New repository password: ", true);
  repo::InitOptions opts;
  opts.compression_level = level;
  std::string id = repo::Repository::init(url, pw, opts);
  if (c.json)
    print_json({{"id", id}, {"repository", url}});
  else
    std::cout << "created repository " << id << " at " << url
              << "\nKeep the password safe: without it the backups cannot be read.\n";
  return 0;
}

void print_backup_summary(const ops::BackupResult& r, double seconds) {
  const auto& m = r.manifest;
  double rate = seconds > 0 ? static_cast<double>(m.size) / seconds : 0;
  std::cout << "backup " << m.id << " saved (" << m.source << ")\n"
            << "  files " << m.file_count << ", size " << human_bytes(m.size) << ", stored "
            << human_bytes(m.stored_size) << ", added " << human_bytes(m.added_size) << "\n"
            << "  took " << human_duration(seconds) << " ("
            << human_bytes(static_cast<uint64_t>(rate)) << "/s)";
  if (r.reused_files) std::cout << ", " << r.reused_files << " unchanged files reused";
  std::cout << "\n";
  if (r.warnings) std::cout << "  " << r.warnings << " entries could not be read (see above)\n";
}

int cmd_backup(const Common& c, const std::vector<std::string>& paths, const std::string& command,
               const std::string& name, const std::vector<std::string>& tags,
               const std::string& host) {
  if (paths.empty() == command.empty())
    throw Error(Errc::kUsage, "give either --path DIR... or --command CMD --name NAME");
  if (!command.empty() && name.empty()) throw Error(Errc::kUsage, "--command needs --name NAME");
  auto repo = open_repo(c);
  ops::Counters counters;
  double start = monotonic_seconds();
  ops::BackupResult r;
  {
    ProgressLine progress("backup", counters, !c.json);
    if (!paths.empty()) {
      ops::FilesBackupOptions o;
      o.paths = paths;
      o.tags = tags;
      o.host = host;
      o.counters = &counters;
      o.scan_totals = stderr_is_terminal() && !c.json;
      o.warn = [](const std::string& msg) {
        std::fprintf(stderr, "%swarning: %s\n", isatty(2) ? "\r\033[K" : "", msg.c_str());
      };
      r = ops::backup_files(*repo, o);
    } else {
      ops::CommandBackupOptions o;
      o.command = command;
      o.name = name;
      o.tags = tags;
      o.host = host;
      o.counters = &counters;
      r = ops::backup_command(*repo, o);
    }
  }
  double seconds = monotonic_seconds() - start;
  if (c.json) {
    json j = r.manifest.to_listing_json();
    j["warnings"] = r.warnings;
    print_json(j);
  } else {
    print_backup_summary(r, seconds);
  }
  return r.warnings ? 8 : 0;
}

int cmd_backups(const Common& c) {
  auto repo = open_repo(c);
  auto all = repo->list_manifests();
  if (c.json) {
    json arr = json::array();
    for (const auto& m : all) arr.push_back(m.to_listing_json());
    print_json(arr);
    return 0;
  }
  std::printf("%-10s %-20s %-8s %10s %10s %10s  %s\n", "ID", "TIME", "TYPE", "SIZE", "STORED",
              "ADDED", "SOURCE");
  for (const auto& m : all)
    std::printf("%-10s %-20s %-8s %10s %10s %10s  %s\n", m.id.substr(0, 8).c_str(),
                format_rfc3339(m.time_ns).c_str(), m.type.c_str(), human_bytes(m.size).c_str(),
                human_bytes(m.stored_size).c_str(), human_bytes(m.added_size).c_str(),
                m.source.c_str());
  std::printf("%zu backups\n", all.size());
  return 0;
}

int cmd_restore(const Common& c, const std::string& backup, const std::string& to, bool force) {
  auto repo = open_repo(c);
  std::string id = repo->resolve_backup(backup);
  repo::Manifest m = repo->load_manifest(id);
  ops::Counters counters;
  double start = monotonic_seconds();
  ops::RestoreResult r;
  if (m.type == "command") {
    r = ops::restore_command(*repo, m, to, force);
    if (to == "-") return 0;
  } else {
    ProgressLine progress("restore", counters, !c.json);
    ops::RestoreOptions o{to, force, &counters};
    r = ops::restore_files(*repo, m, o);
  }
  double seconds = monotonic_seconds() - start;
  if (c.json) {
    print_json({{"id", m.id},
                {"target", to},
                {"files", r.files},
                {"dirs", r.dirs},
                {"bytes", r.bytes},
                {"seconds", seconds}});
  } else {
    std::cout << "restored backup " << m.id << " to " << to << ": " << r.files << " files, "
              << human_bytes(r.bytes) << " in " << human_duration(seconds) << " ("
              << human_bytes(static_cast<uint64_t>(
                     seconds > 0 ? static_cast<double>(r.bytes) / seconds : 0))
              << "/s)\n";
  }
  return 0;
}

int cmd_verify(const Common& c, bool read_data) {
  auto repo = open_repo(c);
  ops::Counters counters;
  ops::VerifyReport r;
  {
    ProgressLine progress("verify", counters, !c.json && read_data);
    r = ops::verify(*repo, {read_data, &counters});
  }
  if (c.json) {
    print_json({{"ok", r.ok()},
                {"problems", r.problems},
                {"damaged_backups", r.damaged_backups},
                {"backups", r.backups},
                {"packs", r.packs},
                {"index_objects", r.index_objects},
                {"unreferenced_packs", r.unreferenced_packs},
                {"chunks_checked", r.chunks_checked},
                {"bytes_read", r.bytes_read},
                {"read_data", read_data}});
  } else {
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
  }
  return r.ok() ? 0 : 3;
}

int cmd_key_add(const Common& c) {
  auto repo = open_repo(c);
  std::string pw = read_password("STRONGROOM_NEW", "New password for the key slot: ", true);
  std::string id = repo::add_key_slot(repo->storage(), repo->keys(), pw);
  if (c.json)
    print_json({{"id", id}});
  else
    std::cout << "added key slot " << id << "\n";
  return 0;
}

int cmd_key_list(const Common& c) {
  auto repo = open_repo(c);
  auto slots = repo::list_key_slots(repo->storage());
  if (c.json) {
    json arr = json::array();
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

int cmd_key_remove(const Common& c, const std::string& id) {
  auto repo = open_repo(c);
  auto lock = repo::RepoLock::acquire(*repo, "key remove", true);
  auto slots = repo::list_key_slots(repo->storage());
  bool found = std::any_of(slots.begin(), slots.end(), [&](const auto& s) { return s.id == id; });
  if (!found) throw Error(Errc::kNotFound, "no key slot " + id);
  if (slots.size() <= 1) throw Error(Errc::kUsage, "refusing to remove the last key slot");
  if (id == repo->opened_slot())
    throw Error(
        Errc::kUsage,
        "refusing to remove the key slot of the password in use; open with another password first");
  repo->storage().remove("keys/" + id);
  if (!c.json)
    std::cout << "removed key slot " << id << "\n";
  else
    print_json({{"removed", id}});
  return 0;
}

int cmd_unlock(const Common& c) {
  auto repo = open_repo(c);
  size_t n = repo::RepoLock::remove_stale(*repo);
  std::cout << "removed " << n << " stale locks\n";
  return 0;
}

int run(int argc, char** argv) {
  CLI::App app{"strongroom: encrypted, deduplicating backups with verified restores"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "strongroom 0.1.0 (repository format 1)");
  app.footer(
      "Password: STRONGROOM_PASSWORD_FILE, STRONGROOM_PASSWORD, or a prompt (never on the command "
      "line).\n"
      "Exit codes: 0 ok, 1 error, 2 usage, 3 damage found, 4 wrong password, 5 locked, 6 not "
      "found,\n"
      "7 command source failed, 8 backup saved but some files could not be read.");
  Common common;
  int result = 0;

  int level = 3;
  auto* init = app.add_subcommand("init", "Create a new repository");
  add_repo_option(init, common, true);
  init->add_option("--compression-level", level, "zstd level for this repository (0 = none)")
      ->check(CLI::Range(-7, 19));
  init->callback([&] { result = cmd_init(common, level); });

  std::vector<std::string> paths, tags;
  std::string command, name, host;
  auto* backup = app.add_subcommand("backup", "Back up directories/files or a command's output");
  add_repo_option(backup, common, true);
  backup->add_option("--path,-p", paths, "A directory or file to back up (repeatable)");
  backup->add_option("--command", command, "A shell command whose standard output is backed up");
  backup->add_option("--name", name, "Name of the command backup's output");
  backup->add_option("--tag", tags, "A tag for the backup (repeatable)");
  backup->add_option("--host", host, "Host name to record (default: this host)");
  backup->callback([&] { result = cmd_backup(common, paths, command, name, tags, host); });

  auto* backups = app.add_subcommand("backups", "List the backups");
  add_repo_option(backups, common, true);
  backups->callback([&] { result = cmd_backups(common); });

  std::string backup_id = "latest", to;
  bool force = false;
  auto* restore = app.add_subcommand("restore", "Restore a backup");
  add_repo_option(restore, common, true);
  restore->add_option("--backup,-b", backup_id, "Backup id (or unique prefix) or 'latest'")
      ->capture_default_str();
  restore->add_option("--to,-t", to, "Target directory (files); a file or - (command output)")
      ->required();
  restore->add_flag("--force", force, "Restore into a non-empty target, replacing what is there");
  restore->callback([&] { result = cmd_restore(common, backup_id, to, force); });

  bool read_data = false;
  auto* verify = app.add_subcommand("verify", "Check the repository's structure (and data)");
  add_repo_option(verify, common, true);
  verify->add_flag("--read-data", read_data, "Read and authenticate every chunk");
  verify->callback([&] { result = cmd_verify(common, read_data); });

  auto* key = app.add_subcommand("key", "Manage the password key slots");
  key->require_subcommand(1);
  auto* key_add =
      key->add_subcommand("add",
                          "Add a key slot (new password from STRONGROOM_NEW_PASSWORD_FILE, "
                          "STRONGROOM_NEW_PASSWORD or a prompt)");
  add_repo_option(key_add, common, true);
  key_add->callback([&] { result = cmd_key_add(common); });
  auto* key_list = key->add_subcommand("list", "List the key slots");
  add_repo_option(key_list, common, true);
  key_list->callback([&] { result = cmd_key_list(common); });
  std::string key_id;
  auto* key_remove = key->add_subcommand("remove", "Remove a key slot");
  add_repo_option(key_remove, common, true);
  key_remove->add_option("id", key_id, "The key slot id")->required();
  key_remove->callback([&] { result = cmd_key_remove(common, key_id); });

  auto* unlock = app.add_subcommand("unlock", "Remove stale locks (of processes that are gone)");
  add_repo_option(unlock, common, false);
  unlock->callback([&] { result = cmd_unlock(common); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return result;
}

}  // namespace
}  // namespace sr::app

int main(int argc, char** argv) {
  try {
    return sr::app::run(argc, argv);
  } catch (const sr::Error& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%sstrongroom: error: %s\n", isatty(2) ? "\r\033[K" : "", e.what());
    return sr::exit_code_for(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strongroom: error: %s\n", e.what());
    return 1;
  }
}

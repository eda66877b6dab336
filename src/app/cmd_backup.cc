// app/cmd_backup.cc: `strongroom backup` (files, a command's output, or a PostgreSQL cluster)
// and `strongroom backups` (the list).
#include <cstdio>
#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "app/terminal.h"
#include "base/time_util.h"
#include "ops/backup.h"
#include "ops/pg_backup.h"

namespace sr::app {
namespace {

struct BackupArgs {
  RepoArgs repo;
  std::vector<std::string> paths, tags;
  std::string command, name, host;
  std::string pg_data, pg_conn, type = "full";
  int lock_wait = 600;
};

void print_summary(const ops::BackupResult& r, double seconds) {
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

// --source NAME fills what the command line left out from the configured source; the source's
// tags come before those of --tag.
void apply_source(BackupArgs& a) {
  const config::SourceConfig* s = a.repo.source_config;
  if (s == nullptr) return;
  if (!a.paths.empty() || !a.command.empty() || !a.pg_data.empty())
    throw Error(Errc::kUsage, "--source " + s->name +
                                  " says what to back up: leave out --path, "
                                  "--command and --pg-data");
  switch (s->type) {
    case config::SourceType::kPostgres:
      a.pg_data = s->pg_data;
      if (a.pg_conn.empty()) a.pg_conn = s->pg_conn;
      break;
    case config::SourceType::kFiles:
      a.paths = s->paths;
      break;
    case config::SourceType::kCommand:
      a.command = s->command;
      if (a.name.empty()) a.name = s->output_name;
      break;
  }
  if (a.host.empty()) a.host = s->host;
  std::vector<std::string> tags = s->tags;
  tags.insert(tags.end(), a.tags.begin(), a.tags.end());
  a.tags = tags;
}

ops::BackupResult run_one(const BackupArgs& a, repo::Repository& repo, CommandRun& run) {
  const std::string source_name = a.repo.source_config ? a.repo.source_config->name : "";
  if (!a.pg_data.empty()) {
    ops::PgBackupOptions o;
    o.stanza = a.repo.stanza;
    o.pg_data = a.pg_data;
    o.pg_conn = a.pg_conn;
    o.type = a.type;
    o.name = a.name;
    o.tags = a.tags;
    o.config_source = source_name;
    o.lock_wait_seconds = a.lock_wait;
    return ops::backup_postgres(repo, o, run.ctx());
  }
  if (!a.paths.empty()) {
    ops::FilesBackupOptions o;
    o.paths = a.paths;
    o.tags = a.tags;
    o.host = a.host;
    o.config_source = source_name;
    o.lock_wait_seconds = a.lock_wait;
    o.scan_totals = stderr_is_terminal() && !a.repo.json;
    return ops::backup_files(repo, o, run.ctx());
  }
  ops::CommandBackupOptions o;
  o.command = a.command;
  o.name = a.name;
  o.tags = a.tags;
  o.host = a.host;
  o.config_source = source_name;
  o.lock_wait_seconds = a.lock_wait;
  return ops::backup_command(repo, o, run.ctx());
}

int run_backup(BackupArgs& a) {
  apply_source(a);
  int sources = !a.paths.empty() + !a.command.empty() + !a.pg_data.empty();
  if (sources != 1)
    throw Error(Errc::kUsage,
                "give one source: --path DIR..., --command CMD --name NAME, or --pg-data DIR "
                "--pg-conn CONNINFO");
  if (!a.command.empty() && a.name.empty())
    throw Error(Errc::kUsage, "--command needs --name NAME");
  auto repo = open_repo(a.repo);
  CommandRun run(true);
  double start = monotonic_seconds();
  ops::BackupResult r;
  {
    ProgressLine progress("backup", run.counters(), !a.repo.json);
    r = run_one(a, *repo, run);
  }
  double seconds = monotonic_seconds() - start;
  if (a.repo.json) {
    print_json(r.to_json());
  } else {
    print_summary(r, seconds);
  }
  return r.warnings ? 8 : 0;
}

// Lists the readable backups; a manifest that cannot be read is named on stderr and makes the
// exit code 3 (damage found), never silently left out.
int run_backups(const RepoArgs& a) {
  auto repo = open_repo(a);
  auto scan = repo->scan_manifests();
  CommandRun run;
  for (const auto& d : scan.damaged)
    run.logger().warn("backups", "backup " + d.id + " cannot be read: " + d.error);
  int rc = scan.damaged.empty() ? 0 : 3;
  const auto& all = scan.readable;
  if (a.json) {
    nlohmann::json arr = nlohmann::json::array();
    for (const auto& m : all) arr.push_back(m.to_listing_json());
    print_json(arr);
    return rc;
  }
  std::printf("%-10s %-20s %-8s %10s %10s %10s  %s\n", "ID", "TIME", "TYPE", "SIZE", "STORED",
              "ADDED", "SOURCE");
  for (const auto& m : all)
    std::printf("%-10s %-20s %-8s %10s %10s %10s  %s\n", m.id.substr(0, 8).c_str(),
                format_rfc3339(m.time_ns).c_str(), m.type.c_str(), human_bytes(m.size).c_str(),
                human_bytes(m.stored_size).c_str(), human_bytes(m.added_size).c_str(),
                m.source.c_str());
  std::printf("%zu backups", all.size());
  if (!scan.damaged.empty()) std::printf(", %zu unreadable (see above)", scan.damaged.size());
  std::printf("\n");
  return rc;
}

}  // namespace

void add_backup_commands(CLI::App& app, int& result) {
  auto a = std::make_shared<BackupArgs>();
  auto* cmd = app.add_subcommand("backup", "Back up directories/files or a command's output");
  add_repo_options(cmd, a->repo, true);
  cmd->add_option("--path,-p", a->paths, "A directory or file to back up (repeatable)");
  cmd->add_option("--command", a->command, "A shell command whose standard output is backed up");
  cmd->add_option("--name", a->name, "Name of the command backup's output");
  cmd->add_option("--tag", a->tags, "A tag for the backup (repeatable)");
  cmd->add_option("--host", a->host, "Host name to record (default: this host)");
  cmd->add_option("--pg-data", a->pg_data, "PostgreSQL data directory (a physical backup)");
  cmd->add_option("--pg-conn", a->pg_conn,
                  "libpq connection string of that server, e.g. \"host=/run/postgresql "
                  "port=5432 user=postgres\"");
  cmd->add_option("--type", a->type, "PostgreSQL backup type: full, diff or incr")
      ->check(CLI::IsMember({"full", "diff", "incr"}))
      ->capture_default_str();
  add_stanza_option(cmd, a->repo, "Name of the PostgreSQL cluster in the repository");
  add_source_option(cmd, a->repo);
  cmd->add_option("--lock-wait", a->lock_wait,
                  "Seconds to wait while expire or prune holds the exclusive lock")
      ->capture_default_str();
  cmd->callback([a, &result] { result = run_backup(*a); });

  auto l = std::make_shared<RepoArgs>();
  auto* list = app.add_subcommand("backups", "List the backups");
  add_repo_options(list, *l, true);
  list->callback([l, &result] { result = run_backups(*l); });
}

}  // namespace sr::app

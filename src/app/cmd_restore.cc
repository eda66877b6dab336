// app/cmd_restore.cc: `strongroom restore`: a files backup into a directory, a command backup
// into a file or stdout, a PostgreSQL backup (optionally to a point in time, and started).
#include <cstdlib>
#include <iostream>

#include "app/commands.h"
#include "app/common.h"
#include "app/storage_env.h"
#include "app/terminal.h"
#include "base/time_util.h"
#include "ops/pg_restore.h"
#include "ops/restore.h"

namespace sr::app {
namespace {

struct PitrArgs {
  std::string time, lsn, xid, name, target, action = "promote";
  bool start = false, archive = false;
  int port = 0;
  std::string pg_bin;
  std::vector<std::string> tablespace_map;
  std::string tablespace_dir;
  bool tablespace_in_place = false;
  bool any() const {
    return !time.empty() || !lsn.empty() || !xid.empty() || !name.empty() || !target.empty() ||
           start || !tablespace_map.empty() || !tablespace_dir.empty() || tablespace_in_place;
  }
};

struct RestoreArgs {
  RepoArgs repo;
  std::string backup = "latest", to;
  bool force = false, delta = false;
  bool no_same_owner = false, no_special_files = false;
  std::string write_mode = "buffered";
  PitrArgs pitr;
};

void set_recovery_target(const PitrArgs& p, ops::PgRestoreOptions& o) {
  int kinds =
      !p.time.empty() + !p.lsn.empty() + !p.xid.empty() + !p.name.empty() + !p.target.empty();
  if (kinds > 1) throw Error(Errc::kUsage, "give at most one recovery target");
  if (!p.time.empty()) o.target_kind = "time", o.target_value = p.time;
  if (!p.lsn.empty()) o.target_kind = "lsn", o.target_value = p.lsn;
  if (!p.xid.empty()) o.target_kind = "xid", o.target_value = p.xid;
  if (!p.name.empty()) o.target_kind = "name", o.target_value = p.name;
  if (!p.target.empty()) {
    if (p.target != "immediate") throw Error(Errc::kUsage, "--target takes 'immediate'");
    o.target_kind = "immediate";
  }
}

void print_pg_restore(const ops::PgRestoreResult& r, const RestoreArgs& a, bool start) {
  double total = r.restore_seconds + r.recovery_seconds;
  std::cout << "restored PostgreSQL backup " << r.backup_id << " to " << a.to << ": "
            << r.files.files << " files, " << human_bytes(r.files.bytes) << " in "
            << human_duration(r.restore_seconds) << "\n";
  for (const auto& t : r.tablespaces)
    std::cout << "tablespace " << t.oid << " (recorded at " << t.recorded << ") restored to "
              << t.restored_to << "\n";
  if (r.files.special_skipped)
    std::cout << r.files.special_skipped << " special files skipped (--no-special-files)\n";
  if (a.delta)
    std::cout << "delta: " << human_bytes(r.files.bytes_unchanged) << " already in place, "
              << r.files.removed << " entries removed\n";
  if (start)
    std::cout << "server " << r.state << " after recovery (port " << r.port << "); RTO "
              << human_duration(total) << " (files " << human_duration(r.restore_seconds)
              << ", recovery " << human_duration(r.recovery_seconds) << ")\n";
  else
    std::cout << "recovery is configured (recovery.signal, restore_command); start the server to "
                 "replay the WAL\n";
}

int restore_pg(const RestoreArgs& a, repo::Repository& repo, const std::string& backup) {
  const PitrArgs& p = a.pitr;
  ops::PgRestoreOptions o;
  o.stanza = a.repo.stanza;
  o.target_dir = a.to;
  o.backup = backup;
  o.force = a.force;
  o.delta = a.delta;
  o.same_owner = !a.no_same_owner;
  o.special_files = !a.no_special_files;
  o.write_mode = ops::parse_write_mode(a.write_mode);
  o.tablespace_map = p.tablespace_map;
  o.tablespace_dir = p.tablespace_dir;
  o.tablespace_in_place = p.tablespace_in_place;
  set_recovery_target(p, o);
  o.target_action = p.action;
  o.start = p.start;
  o.port = p.port;
  o.archive = p.archive;
  o.pg_bin = p.pg_bin;
  set_restore_command_settings(a.repo, o);
  if (const char* u = std::getenv("PGUSER"); u && *u) o.db_user = u;
  CommandRun run(true);
  ops::PgRestoreResult r;
  {
    ProgressLine progress("restore", run.counters(), !a.repo.json);
    r = ops::restore_postgres(repo, o, run.ctx());
  }
  if (a.repo.json)
    print_json(r.to_json());
  else
    print_pg_restore(r, a, o.start);
  return 0;
}

int restore_files(const RestoreArgs& a, repo::Repository& repo, const repo::Manifest& m) {
  CommandRun run(true);
  ops::RestoreResult r;
  ops::RestoreOptions o{a.to, a.force};
  o.delta = a.delta;
  o.same_owner = !a.no_same_owner;
  o.special_files = !a.no_special_files;
  o.write_mode = ops::parse_write_mode(a.write_mode);
  if (m.type == "command") {
    if (a.delta) throw Error(Errc::kUsage, "--delta applies to file and PostgreSQL backups");
    r = ops::restore_command(repo, m, o, run.ctx());
    if (a.to == "-") return 0;
  } else {
    ProgressLine progress("restore", run.counters(), !a.repo.json);
    r = ops::restore_files(repo, m, o, run.ctx());
  }
  double seconds = r.seconds;
  if (a.repo.json) {
    print_json(r.to_json());
    return 0;
  }
  std::cout << "restored backup " << m.id << " to " << a.to << ": " << r.files << " files, "
            << human_bytes(r.bytes) << " in " << human_duration(seconds) << " ("
            << human_bytes(
                   static_cast<uint64_t>(seconds > 0 ? static_cast<double>(r.bytes) / seconds : 0))
            << "/s)\n";
  if (a.delta)
    std::cout << "delta: " << human_bytes(r.bytes_unchanged) << " already in place, " << r.removed
              << " entries removed\n";
  if (r.special_skipped)
    std::cout << r.special_skipped << " special files skipped (--no-special-files)\n";
  return 0;
}

int run_restore(const RestoreArgs& a) {
  auto repo = open_repo(a.repo);
  if (a.backup == "latest" && a.pitr.any()) return restore_pg(a, *repo, "");
  std::string id = repo->resolve_backup(a.backup);
  repo::Manifest m = repo->load_manifest(id);
  if (m.type == "postgres") return restore_pg(a, *repo, id);
  if (a.pitr.any())
    throw Error(Errc::kUsage, "recovery targets and --start apply to PostgreSQL backups only");
  return restore_files(a, *repo, m);
}

void add_pitr_options(CLI::App* cmd, PitrArgs& p) {
  cmd->add_option("--target-time", p.time, "PostgreSQL: recover to this time (RFC 3339, UTC)");
  cmd->add_option("--target-lsn", p.lsn, "PostgreSQL: recover to this LSN");
  cmd->add_option("--target-xid", p.xid, "PostgreSQL: recover to this transaction id");
  cmd->add_option("--target-name", p.name, "PostgreSQL: recover to this restore point");
  cmd->add_option("--target", p.target, "PostgreSQL: 'immediate' (end of the backup only)");
  cmd->add_option("--target-action", p.action,
                  "PostgreSQL: promote, pause or shutdown at the target")
      ->check(CLI::IsMember({"promote", "pause", "shutdown"}))
      ->capture_default_str();
  cmd->add_flag("--start", p.start,
                "PostgreSQL: start the restored server and wait for the target");
  cmd->add_option("--port", p.port, "PostgreSQL: port for --start");
  cmd->add_flag("--archive", p.archive, "PostgreSQL: keep archive_mode on in the restored server");
  cmd->add_option("--tablespace-map", p.tablespace_map,
                  "PostgreSQL: restore tablespace OID into DIR (OID=DIR; repeatable)");
  cmd->add_option("--tablespace-dir", p.tablespace_dir,
                  "PostgreSQL: restore every tablespace into DIR/OID");
  cmd->add_flag("--tablespace-in-place", p.tablespace_in_place,
                "PostgreSQL: restore unmapped tablespaces to the locations the backup recorded "
                "(default: TARGET/pg_tblspc_data/OID)");
  cmd->add_option("--pg-bin", p.pg_bin,
                  "PostgreSQL: directory of pg_ctl (default /usr/lib/postgresql/<major>/bin)");
}

}  // namespace

void add_restore_command(CLI::App& app, int& result) {
  auto a = std::make_shared<RestoreArgs>();
  auto* cmd = app.add_subcommand("restore", "Restore a backup");
  add_repo_options(cmd, a->repo, true);
  cmd->add_option("--backup,-b", a->backup, "Backup id (or unique prefix) or 'latest'")
      ->capture_default_str();
  cmd->add_option("--to,-t", a->to, "Target directory (files); a file or - (command output)")
      ->required();
  cmd->add_flag("--force", a->force, "Restore into a non-empty target, replacing what is there");
  cmd->add_flag("--delta", a->delta,
                "Update a target that holds an older copy: remove what the backup lacks, "
                "write only the pieces and pages that differ (content is compared)");
  cmd->add_flag("--no-same-owner", a->no_same_owner,
                "Files belong to the user restoring; setuid/setgid bits are dropped (as root the "
                "default keeps the recorded owners and modes, as tar does)");
  cmd->add_flag("--no-special-files", a->no_special_files,
                "Skip device nodes and FIFOs (each with a warning; counted)");
  cmd->add_option("--write-mode", a->write_mode,
                  "How files are written: buffered (page cache, writeback started as each piece "
                  "is written) or direct (O_DIRECT for large files); both are synced before the "
                  "restore reports success")
      ->check(CLI::IsMember({"buffered", "direct"}))
      ->capture_default_str();
  add_stanza_option(cmd, a->repo, "PostgreSQL cluster in the repository");
  add_source_option(cmd, a->repo);
  add_pitr_options(cmd, a->pitr);
  cmd->callback([a, &result] { result = run_restore(*a); });
}

}  // namespace sr::app

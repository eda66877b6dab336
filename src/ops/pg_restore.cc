#include "ops/pg_restore.h"

#include <dirent.h>
#include <fcntl.h>
#include <ftw.h>
#include <pwd.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <map>

#include "base/fs.h"
#include "base/time_util.h"
#include "ops/block_file.h"
#include "ops/pg_catalog.h"
#include "ops/pg_mark.h"
#include "ops/pg_recovery_conf.h"
#include "ops/restore_parts.h"
#include "pg/server.h"
#include "repo/wal_store.h"

namespace sr::ops {

using catalog::TargetKind;
using nlohmann::json;

namespace {

std::map<std::string, std::string> mapped_tablespaces(
    const PgRestoreOptions& o, const std::map<std::string, std::string>& original) {
  std::map<std::string, std::string> mapped;
  for (const auto& m : o.tablespace_map) {
    auto eq = m.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == m.size())
      throw Error(Errc::kUsage, "--tablespace-map takes OID=DIR, not '" + m + "'");
    std::string oid = m.substr(0, eq);
    if (!original.count(oid)) {
      std::string known;
      for (const auto& [k, v] : original) known += (known.empty() ? "" : ", ") + k;
      throw Error(Errc::kUsage, "--tablespace-map: the backup has no tablespace " + oid +
                                    (known.empty() ? " (it has none)" : " (it has " + known + ")"));
    }
    mapped[oid] = m.substr(eq + 1);
  }
  return mapped;
}

std::string absolute_dir(const std::string& dir) {
  if (!dir.empty() && dir[0] == '/') return dir;
  char buf[PATH_MAX];
  if (!::getcwd(buf, sizeof buf)) throw_errno("cannot find the current directory");
  return std::string(buf) + "/" + dir;
}

// Where a restore puts each tablespace: mapped (--tablespace-map, --tablespace-dir), at the
// location the backup recorded only with --tablespace-in-place, otherwise inside the target
// (<target>/pg_tblspc_data/OID): a backup never chooses where a restore writes.
std::vector<PgRestoreResult::Tablespace> tablespace_destinations(const std::string& map,
                                                                 const PgRestoreOptions& o) {
  if (o.tablespace_in_place && !o.tablespace_dir.empty())
    throw Error(Errc::kUsage, "--tablespace-in-place and --tablespace-dir exclude each other");
  std::map<std::string, std::string> original = catalog::parse_tablespace_map(map);
  std::map<std::string, std::string> mapped = mapped_tablespaces(o, original);
  std::vector<PgRestoreResult::Tablespace> out;
  for (const auto& [oid, path] : original) {
    PgRestoreResult::Tablespace t{oid, path, "", ""};
    if (mapped.count(oid))
      t.restored_to = mapped[oid];
    else if (!o.tablespace_dir.empty())
      t.restored_to = o.tablespace_dir + "/" + oid;
    else if (o.tablespace_in_place)
      t.restored_to = path;
    else
      t.inside = "pg_tblspc_data/" + oid;
    if (!t.inside.empty()) t.restored_to = absolute_dir(o.target_dir) + "/" + t.inside;
    const std::string& dest = t.restored_to;
    if (dest.empty() || dest[0] != '/')
      throw Error(Errc::kUsage,
                  "tablespace " + oid + ": destination '" + dest + "' is not an absolute path");
    if (path_exists(dest) && !dir_is_empty(dest)) {
      bool is_tablespace = false;
      if (DIR* d = ::opendir(dest.c_str())) {
        while (struct dirent* e = ::readdir(d))
          if (std::string(e->d_name).rfind("PG_", 0) == 0) is_tablespace = true;
        ::closedir(d);
      }
      if (!(o.delta || o.force) || !is_tablespace)
        throw Error(Errc::kAlreadyExists,
                    "tablespace " + oid + " would be restored to " + dest + ", which is not empty" +
                        (o.delta && !is_tablespace ? " and holds no tablespace" : "") +
                        "; map it elsewhere with --tablespace-map " + oid +
                        "=DIR (or --tablespace-dir DIR)");
    }
    out.push_back(std::move(t));
  }
  return out;
}

// A directory the restore created in the target (as root) gets the target's owner, so the server
// that owns the data directory can enter it.
void own_like_target(const std::string& target, const std::string& rel) {
  Fd root = open_or_throw(target, O_RDONLY | O_DIRECTORY);
  Fd d(restore_parts::open_beneath(root.get(), rel, O_RDONLY | O_DIRECTORY));
  struct stat st;
  if (!d || ::fstat(root.get(), &st) != 0 || ::fchown(d.get(), st.st_uid, st.st_gid) != 0)
    throw_errno("cannot set the owner of " + target + "/" + rel);
}

// Everything that can be checked about the options alone, before the repository is read.
void validate_options(const PgRestoreOptions& o) {
  repo::validate_stanza(o.stanza);
  catalog::parse_target_kind(o.target_kind);
  if (o.target_action != "promote" && o.target_action != "pause" && o.target_action != "shutdown")
    throw Error(Errc::kUsage, "--target-action must be promote, pause or shutdown");
  if (o.start && ::geteuid() == 0 && o.server_os_user.empty())
    throw Error(Errc::kUsage,
                "--start: PostgreSQL does not run as root; run the restore as the "
                "database's OS user (the restored files belong to the user restoring)");
  restore_command(o);  // refuses a restore_command that could not work, before anything is written
  if (!o.delta || !path_exists(o.target_dir)) return;
  // A delta restore removes what the backup lacks: only into a PostgreSQL data directory
  // (or an empty one), and never under a running server.
  std::string pid_file = o.target_dir + "/postmaster.pid";
  if (path_exists(pid_file)) {
    Bytes pid = read_file(pid_file);
    pid.push_back(0);
    long n = std::strtol(reinterpret_cast<const char*>(pid.data()), nullptr, 10);
    if (n > 0 && (::kill(static_cast<pid_t>(n), 0) == 0 || errno == EPERM))
      throw Error(Errc::kUsage, "a PostgreSQL server (pid " + std::to_string(n) +
                                    ") is running in " + o.target_dir +
                                    "; stop it before a delta restore");
  }
  if (!path_exists(o.target_dir + "/PG_VERSION") && !dir_is_empty(o.target_dir))
    throw Error(Errc::kUsage, "--delta: " + o.target_dir +
                                  " is not a PostgreSQL data directory (no PG_VERSION); a "
                                  "delta restore would remove its contents");
}

struct Plan {
  catalog::BackupRecord backup;
  catalog::RecoveryTarget target;
  std::optional<catalog::WalArchive> archive;  // loaded when the backup was chosen by target
  uint64_t archive_segment_size = 0;           // the segment size it was read with
};

// The backup: given, or the newest that ended before the target (catalog/recovery.h).
Plan plan_restore(repo::Repository& repo, const PgRestoreOptions& o) {
  Plan plan{{}, catalog::parse_recovery_target(o.target_kind, o.target_value)};
  if (!o.backup.empty()) {
    // A backup named by the operator: only its own manifest matters (a DR restore must not be
    // stopped by damage elsewhere in the repository).
    repo::Manifest m = repo.load_manifest(repo.resolve_backup(o.backup));
    plan.backup = catalog::find_pg_backup({backup_record(m)}, o.stanza, m.id);
  } else {
    auto records = pg_backup_records(repo, o.stanza);
    refuse_choice_over_damage(records, "the backup for this recovery target");
    const auto& backups = records.backups;
    if (backups.empty())
      throw Error(Errc::kNotFound, "stanza '" + o.stanza + "' has no PostgreSQL backups");
    // A named restore point recorded by `strongroom mark` has an LSN; one created otherwise is
    // found by replaying from the earliest backup.
    if (plan.target.kind == TargetKind::kName)
      if (auto mk = find_mark(repo, o.stanza, o.target_value))
        plan.target.mark_lsn = pg::Lsn::parse(mk->lsn);
    // Only backups from which replay can follow the newest timeline (after a failover, backups
    // of the old branch cannot).
    repo::WalStore store(repo, o.stanza);
    plan.archive_segment_size = backups.front().pg->segment_size;
    plan.archive = load_wal_archive(store, plan.archive_segment_size);
    plan.backup = catalog::choose_backup(backups, o.stanza, plan.target, &*plan.archive);
  }
  catalog::check_target_after_backup(plan.backup, plan.target);
  return plan;
}

// WAL: of this cluster, continuous from the backup's start, through timeline switches.
void check_wal(repo::Repository& repo, const PgRestoreOptions& o, const Plan& plan) {
  const catalog::PgBackupInfo& pg = *plan.backup.pg;
  repo::WalStore store(repo, o.stanza);
  auto identity = store.identity();
  if (identity && identity->system_identifier != pg.system_identifier)
    throw Error(Errc::kCorrupt, "backup " + plan.backup.id +
                                    " is of another cluster than stanza '" + o.stanza + "'");
  catalog::WalArchive archive = plan.archive && plan.archive_segment_size == pg.segment_size
                                    ? *plan.archive
                                    : load_wal_archive(store, pg.segment_size);
  if (!catalog::on_newest_history(archive, plan.backup))
    throw Error(Errc::kUsage,
                "backup " + plan.backup.short_id() + " (timeline " + std::to_string(pg.timeline) +
                    ") cannot recover onto timeline " +
                    std::to_string(catalog::newest_timeline(archive, pg.timeline)) +
                    ", the newest in the archive: it was taken on another branch, or after "
                    "the fork; choose a backup of that timeline's history");
  std::optional<pg::Lsn> until;
  if (plan.target.kind == TargetKind::kLsn) until = plan.target.lsn;
  auto coverage = catalog::check_wal_chain(archive, plan.backup, until);
  if (until && *until > coverage.covered)
    throw Error(Errc::kNotFound, "recovery target LSN " + until->str() +
                                     " is after the newest archived WAL (which ends at " +
                                     coverage.covered.str() + ")");
}

// Files, then backup_label and the recovery configuration.
RestoreResult restore_data(repo::Repository& repo, const PgRestoreOptions& o, const Plan& plan,
                           const std::vector<PgRestoreResult::Tablespace>& tablespaces,
                           const OpContext& ctx) {
  const catalog::PgBackupInfo& pg = *plan.backup.pg;
  ctx.log().info("restore",
                 "restoring PostgreSQL backup " + plan.backup.id + " to " + o.target_dir);
  RestoreOptions ro{o.target_dir, o.force};
  for (const auto& t : tablespaces) {
    // Where each tablespace goes, told before anything is written; outside the target only
    // because the operator said so.
    std::string where =
        "tablespace " + t.oid + " (recorded at " + t.recorded + ") goes to " + t.restored_to;
    if (t.inside.empty())
      ctx.log().warn("restore", where + ", outside the target");
    else
      ctx.log().info("restore", where);
    ro.relocate.push_back({"pg_tblspc/" + t.oid, t.restored_to, t.inside});
  }
  ro.delta = o.delta;
  ro.same_owner = o.same_owner;
  ro.special_files = o.special_files;
  ro.write_mode = o.write_mode;
  ro.durable = o.durable;
  ro.page_hash_seed = page_hash_seed(repo);
  RestoreResult files = restore_files(repo, repo.load_manifest(plan.backup.id), ro, ctx);
  ctx.check_cancelled("restore");
  if (::geteuid() == 0 && std::any_of(tablespaces.begin(), tablespaces.end(),
                                      [](const auto& t) { return !t.inside.empty(); }))
    own_like_target(o.target_dir, "pg_tblspc_data");
  write_recovery_files(o.target_dir, pg.backup_label,
                       recovery_settings(o, plan.backup.id, plan.target));
  return files;
}

// Root starting the restored server as `user` (restore tests): every file of the target (the
// restored tree, backup_label, the recovery settings) becomes that user's, as PostgreSQL needs.
// Depth first, children before their directory (nftw FTW_DEPTH | FTW_PHYS, lchown): while an
// entry is changed, every directory above it is still root's, so the user cannot swap a path
// component for a symlink; symlinks are changed themselves, never followed.
uid_t give_uid;
gid_t give_gid;
int give_entry(const char* path, const struct stat*, int, struct FTW*) {
  return ::lchown(path, give_uid, give_gid) == 0 ? 0 : errno;
}

void give_tree_to(const std::string& dir, const std::string& user) {
  struct passwd* pw = ::getpwnam(user.c_str());
  if (pw == nullptr) throw Error(Errc::kUsage, "no OS user '" + user + "'");
  give_uid = pw->pw_uid;
  give_gid = pw->pw_gid;
  int rc = ::nftw(dir.c_str(), give_entry, 64, FTW_DEPTH | FTW_PHYS);
  if (rc != 0) throw_errno("cannot give " + dir + " to " + user, rc > 0 ? rc : errno);
}

// Starts the restored server and waits until recovery reached the target; leaves it running.
void start_and_wait(const PgRestoreOptions& o, const Plan& plan, PgRestoreResult& result,
                    const OpContext& ctx) {
  int version = plan.backup.pg->version ? plan.backup.pg->version : 150000;
  pg::ServerSettings s;
  s.bin_dir = o.pg_bin.empty() ? "/usr/lib/postgresql/" + std::to_string(version / 10000) + "/bin"
                               : o.pg_bin;
  s.data_dir = o.target_dir;
  s.port = o.port;
  s.db_user = o.db_user.empty() ? "postgres" : o.db_user;
  s.start_timeout_seconds = o.start_timeout_seconds;
  s.may_stop_during_start = o.target_action == "shutdown";
  s.what = "the restored server";
  s.os_user = o.server_os_user;
  s.options = o.server_options;
  // restore_command (strongroom wal-get) reads an object store with that backend's variables;
  // nothing else of our environment reaches the server.
  if (o.repo_url.starts_with("s3://")) s.pass_env = {"AWS_"};
  if (o.repo_url.starts_with("azure://")) s.pass_env = {"AZURE_STORAGE_"};
  if (::geteuid() == 0 && !o.server_os_user.empty()) give_tree_to(o.target_dir, o.server_os_user);
  auto server = pg::Server::start(s, ctx);
  result.started = true;
  result.port = server->port();
  // Without a target, recovery ends at the end of the WAL and the server promotes itself.
  pg::RecoveryAction action =
      plan.target.kind == TargetKind::kLatest || o.target_action == "promote"
          ? pg::RecoveryAction::kPromote
      : o.target_action == "pause" ? pg::RecoveryAction::kPause
                                   : pg::RecoveryAction::kShutdown;
  pg::RecoveryEnd end = server->wait_for_recovery(o.recovery_timeout_seconds, action, ctx);
  if (end == pg::RecoveryEnd::kStopped)
    throw Error(Errc::kIo, "the restored server stopped during recovery (see " +
                               server->log_file() + "): the recovery target may not be reachable");
  result.state = pg::to_string(end);
  if (o.hand_over_server) {
    result.server = std::move(server);  // stopped when the caller lets go of it
    return;
  }
  server->release();  // the restored server is the caller's now
}

}  // namespace

json PgRestoreResult::to_json() const {
  json j = {{"id", backup_id},
            {"target", target_dir},
            {"files", files.files},
            {"bytes", files.bytes},
            {"restore_seconds", restore_seconds}};
  if (delta) {
    j["bytes_unchanged"] = files.bytes_unchanged;
    j["removed"] = files.removed;
  }
  if (files.special_skipped) j["special_skipped"] = files.special_skipped;
  for (const auto& t : tablespaces)
    j["tablespaces"].push_back(
        {{"oid", t.oid}, {"recorded", t.recorded}, {"restored_to", t.restored_to}});
  if (started) {
    j["state"] = state;
    j["port"] = port;
    j["recovery_seconds"] = recovery_seconds;
    j["rto_seconds"] = restore_seconds + recovery_seconds;
  }
  return j;
}

PgRestoreResult restore_postgres(repo::Repository& repo, const PgRestoreOptions& o,
                                 const OpContext& ctx) {
  double t0 = monotonic_seconds();
  validate_options(o);
  Plan plan = plan_restore(repo, o);
  check_wal(repo, o, plan);
  PgRestoreResult result;
  result.backup_id = plan.backup.id;
  result.target_dir = o.target_dir;
  result.delta = o.delta;
  // Tablespaces: where each goes, checked before anything is written.
  result.tablespaces = tablespace_destinations(plan.backup.pg->tablespace_map, o);
  result.files = restore_data(repo, o, plan, result.tablespaces, ctx);
  result.restore_seconds = monotonic_seconds() - t0;
  if (!o.start) return result;
  start_and_wait(o, plan, result, ctx);
  result.recovery_seconds = monotonic_seconds() - t0 - result.restore_seconds;
  return result;
}

}  // namespace sr::ops

#include "ops/pg_recovery_conf.h"

#include <fcntl.h>
#include <sys/stat.h>

#include "base/fs.h"
#include "base/time_util.h"
#include "ops/restore_parts.h"

namespace sr::ops {

using catalog::TargetKind;

std::string quote_conf(const std::string& v) {
  std::string out = "'";
  for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string restore_command(const PgRestoreOptions& o) {
  const std::string& file = o.key_file.empty() ? o.password_file : o.key_file;
  if (file.empty())
    throw Error(Errc::kUsage,
                "a PostgreSQL restore writes a restore_command that must read the password from a "
                "file: set STRONGROOM_PASSWORD_FILE (or --password-file, or use --key-file)");
  if (file[0] != '/')
    throw Error(Errc::kUsage, "the restore_command needs an absolute path to the " +
                                  std::string(o.key_file.empty() ? "password" : "key") +
                                  " file, not '" + file + "'");
  // A repository of the configuration file: wal-get reads the same file (credentials, endpoint,
  // limits), as the archive_command does.
  std::string where = o.config_file.empty()
                          ? " --repo " + shell_quote(o.repo_url)
                          : " --config " + shell_quote(o.config_file) + " --repository " +
                                shell_quote(o.config_repository);
  return shell_quote(o.self_exe) + " wal-get" + where + " --stanza " + shell_quote(o.stanza) +
         (o.key_file.empty() ? " --password-file " + shell_quote(o.password_file)
                             : " --key-file " + shell_quote(o.key_file)) +
         (o.ca_file.empty() ? "" : " --ca-file " + shell_quote(o.ca_file)) + " --prefetch 8 %f %p";
}

std::string recovery_settings(const PgRestoreOptions& o, const std::string& backup_id,
                              const catalog::RecoveryTarget& t) {
  std::string conf = "\n# Added by strongroom restore of backup " + backup_id + "\n";
  conf += "restore_command = " + quote_conf(restore_command(o)) + "\n";
  conf += "recovery_target_timeline = 'latest'\n";
  switch (t.kind) {
    case TargetKind::kTime:
      conf += "recovery_target_time = " + quote_conf(format_pg_timestamp(t.time_ns)) + "\n";
      break;
    case TargetKind::kLsn:
      conf += "recovery_target_lsn = " + quote_conf(t.lsn.str()) + "\n";
      break;
    case TargetKind::kXid:
      conf += "recovery_target_xid = " + quote_conf(t.value) + "\n";
      break;
    case TargetKind::kName:
      conf += "recovery_target_name = " + quote_conf(t.value) + "\n";
      break;
    case TargetKind::kImmediate:
      conf += "recovery_target = 'immediate'\n";
      break;
    case TargetKind::kLatest:
      break;
  }
  if (t.kind != TargetKind::kLatest)
    conf += "recovery_target_action = " + quote_conf(o.target_action) + "\n";
  if (!o.archive) conf += "archive_mode = 'off'\n";
  return conf;
}

void write_recovery_files(const std::string& data_dir, const std::string& backup_label,
                          const std::string& settings) {
  using restore_parts::write_beneath;
  Fd root = open_or_throw(data_dir, O_RDONLY | O_DIRECTORY);
  if (::fchmod(root.get(), 0700) != 0) throw_errno("cannot chmod " + data_dir);
  // First the one file that is appended to, not replaced: refused if it is not a regular file.
  write_beneath(root.get(), "postgresql.auto.conf", as_bytes(settings), true);
  write_beneath(root.get(), "backup_label", as_bytes(backup_label), false);
  restore_parts::mkdirs_beneath(root.get(), "pg_wal/archive_status", 0700);
  write_beneath(root.get(), "recovery.signal", {}, false);
}

}  // namespace sr::ops

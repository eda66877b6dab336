#include "ops/pg_recovery_conf.h"

#include "base/fs.h"
#include "base/time_util.h"

namespace sr::ops {

using catalog::TargetKind;

std::string quote_conf(const std::string& v) {
  std::string out = "'";
  for (char c : v) out += c == '\'' ? std::string("''") : std::string(1, c);
  return out + "'";
}

std::string restore_command(const PgRestoreOptions& o) {
  return shell_quote(o.self_exe) + " wal-get --repo " + shell_quote(o.repo_url) + " --stanza " +
         shell_quote(o.stanza) +
         (o.key_file.empty() ? " --password-file " + shell_quote(o.password_file)
                             : " --key-file " + shell_quote(o.key_file)) +
         " --prefetch 8 %f %p";
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

}  // namespace sr::ops

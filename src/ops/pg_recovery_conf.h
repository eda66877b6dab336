// ops/pg_recovery_conf.h: the recovery configuration a PostgreSQL restore writes (pure text).
//
// recovery_settings() is the block appended to the restored postgresql.auto.conf:
// restore_command (`strongroom wal-get` with the same repository, stanza and password or key
// file), recovery_target_timeline 'latest', the target and its action, and archive_mode off
// unless the restore keeps archiving. Values are quoted for postgresql.conf ('' for '), and the
// command's arguments for the shell PostgreSQL runs it with. restore_command() refuses
// (Errc::kUsage) a command that cannot work: neither a key file nor a password file, or one
// that is not an absolute path (PostgreSQL runs it in the data directory).
// write_recovery_files() does every write a restore makes after the tree: the settings appended
// to postgresql.auto.conf (which must be a regular file, or absent), backup_label,
// pg_wal/archive_status and recovery.signal; all beneath the data directory with no symlink
// followed (restore_parts::write_beneath), so a crafted backup cannot lead them outside.
#pragma once

#include <string>

#include "catalog/recovery.h"
#include "ops/pg_restore.h"

namespace sr::ops {

std::string quote_conf(const std::string& value);  // 'it''s'
std::string restore_command(const PgRestoreOptions& o);
std::string recovery_settings(const PgRestoreOptions& o, const std::string& backup_id,
                              const catalog::RecoveryTarget& target);
void write_recovery_files(const std::string& data_dir, const std::string& backup_label,
                          const std::string& settings);

}  // namespace sr::ops

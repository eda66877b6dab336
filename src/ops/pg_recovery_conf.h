// ops/pg_recovery_conf.h: the recovery configuration a PostgreSQL restore writes (pure text).
//
// recovery_settings() is the block appended to the restored postgresql.auto.conf:
// restore_command (`strongroom wal-get` with the same repository, stanza and password or key
// file), recovery_target_timeline 'latest', the target and its action, and archive_mode off
// unless the restore keeps archiving. Values are quoted for postgresql.conf ('' for '), and the
// command's arguments for the shell PostgreSQL runs it with.
#pragma once

#include <string>

#include "catalog/recovery.h"
#include "ops/pg_restore.h"

namespace sr::ops {

std::string quote_conf(const std::string& value);  // 'it''s'
std::string restore_command(const PgRestoreOptions& o);
std::string recovery_settings(const PgRestoreOptions& o, const std::string& backup_id,
                              const catalog::RecoveryTarget& target);

}  // namespace sr::ops

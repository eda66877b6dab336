// app/commands.h: the subcommands of the CLI. Each add_*_command registers one command (or a
// small group) with CLI11: its options (kept alive by its callback), a call into one operation
// of ops/ or repo/, and its printing (a summary for people, `to_json()` of the result with
// --json). `result` receives the process exit code. main.cc only calls these and maps errors to
// exit codes.
#pragma once

#include <CLI/CLI.hpp>

namespace sr::app {

void add_init_command(CLI::App& app, int& result);       // cmd_init.cc
void add_backup_commands(CLI::App& app, int& result);    // cmd_backup.cc: backup, backups
void add_restore_command(CLI::App& app, int& result);    // cmd_restore.cc
void add_verify_command(CLI::App& app, int& result);     // cmd_verify.cc
void add_repair_commands(CLI::App& app, int& result);    // cmd_repair.cc: repair index
void add_replicate_command(CLI::App& app, int& result);  // cmd_replicate.cc
void add_wal_commands(CLI::App& app, int& result);       // cmd_wal.cc: wal-push, wal-get
void add_postgres_commands(CLI::App& app, int& result);  // cmd_pg.cc: mark, stream
void add_key_commands(CLI::App& app, int& result);       // cmd_key.cc: key add|list|remove, unlock
void add_config_commands(CLI::App& app, int& result);    // cmd_config.cc: config check
void add_policy_commands(CLI::App& app, int& result);    // cmd_policy.cc: expire, hold, prune
void add_proof_command(CLI::App& app, int& result);      // cmd_proof.cc: restore-test
void add_serve_commands(CLI::App& app, int& result);     // cmd_serve.cc: serve, run-now, status

}  // namespace sr::app

// app/main.cc: the strongroom command line: registers the commands (app/commands.h), parses,
// and is the only place where an Error becomes an exit code.
//
// Process hardening, first thing in main, for every command (most open a repository and so hold
// its keys): the process is made non-dumpable (prctl PR_SET_DUMPABLE 0) and its core-size limit
// set to 0, so a crash writes no core file with keys or passwords in it. Non-dumpable also means
// that other processes of the same user can no longer ptrace it nor read /proc/<pid>/mem or
// /proc/<pid>/environ (root still can). Children get dumpable again at exec (ordinary binaries).
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>

#include "app/commands.h"
#include "app/common.h"
#include "base/error.h"
#include "base/log.h"
#include "repo/repository.h"

namespace sr::app {
namespace {

int run(int argc, char** argv) {
  CLI::App app{"strongroom: encrypted, deduplicating backups with verified restores"};
  app.require_subcommand(1);
  app.set_version_flag("--version", std::string("strongroom ") + kVersion + " (repository format " +
                                        std::to_string(repo::kFormatVersion) + ", reads 1)");
  app.footer(
      "Password: STRONGROOM_PASSWORD_FILE, STRONGROOM_PASSWORD, or a prompt (never on the command "
      "line).\n"
      "Exit codes: 0 ok, 1 error, 2 usage, 3 damage found, 4 wrong password, 5 locked, 6 not "
      "found,\n"
      "7 command source failed, 8 backup saved but some files could not be read, 130 cancelled.");
  int result = 0;
  add_init_command(app, result);
  add_backup_commands(app, result);
  add_restore_command(app, result);
  add_postgres_commands(app, result);
  add_wal_commands(app, result);
  add_verify_command(app, result);
  add_repair_commands(app, result);
  add_replicate_command(app, result);
  add_key_commands(app, result);
  add_config_commands(app, result);
  add_policy_commands(app, result);
  add_proof_command(app, result);
  add_serve_commands(app, result);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  return result;
}

void harden_process() {
  struct rlimit none = {0, 0};
  ::setrlimit(RLIMIT_CORE, &none);  // best effort: neither call fails for an ordinary process
  ::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
}

}  // namespace
}  // namespace sr::app

int main(int argc, char** argv) {
  sr::app::harden_process();
  try {
    return sr::app::run(argc, argv);
  } catch (const sr::Error& e) {
    std::fflush(stdout);
    // Messages never carry secrets by design; redact() is the safety net for one that slipped in.
    std::fprintf(stderr, "%sstrongroom: error: %s\n", isatty(2) ? "\r\033[K" : "",
                 sr::log::redact(e.what()).c_str());
    return sr::exit_code_for(e.code());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "strongroom: error: %s\n", sr::log::redact(e.what()).c_str());
    return 1;
  }
}

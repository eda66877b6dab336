// source/child_env.h: the environment strongroom gives the processes it starts (issue 10,
// defect 8): an allow-list, so that storage credentials and repository passwords held in
// strongroom's own environment never reach a child.
//
// A child sees only: PATH, HOME, USER, LOGNAME, SHELL, TERM, LANG, LANGUAGE, LC_*, TZ, TMPDIR,
// PG* (libpq and server settings; for the PostgreSQL server not PGPASSWORD, which it never
// needs), and STRONGROOM_* settings. Never, whatever the list says: AWS_*, AZURE_*,
// STRONGROOM_PASSWORD*, STRONGROOM_NEW_PASSWORD*, STRONGROOM_KEY_FILE*, STRONGROOM_NEW_KEY*.
// A `--command` keeps PGPASSWORD: it is the command's own database credential (pg_dump needs
// it), not one of strongroom's. Thread-safe as long as nobody calls setenv meanwhile.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace sr::source {

enum class ChildKind {
  kCommand,  // a backed-up `--command`
  kServer,   // a PostgreSQL server (pg_ctl) started on a restored data directory
};

// Whether the variable `name` may be passed to a child of kind `kind`.
bool child_may_inherit(std::string_view name, ChildKind kind);

// "NAME=value" entries of `env` (default: this process's environment) a child may see.
std::vector<std::string> child_environment(ChildKind kind, char** env = nullptr);

// Keeps `entries` alive and offers them as a NULL-terminated envp for posix_spawn.
class ChildEnvp {
 public:
  explicit ChildEnvp(std::vector<std::string> entries);
  char* const* get() { return ptrs_.data(); }

 private:
  std::vector<std::string> entries_;
  std::vector<char*> ptrs_;
};

}  // namespace sr::source

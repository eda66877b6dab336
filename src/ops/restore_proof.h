// ops/restore_proof.h: `strongroom restore-test`: proves that a source's backups restore, with
// the right data, and measures how long it takes (the RTO).
//
// PostgreSQL sources: the backup that serves the target is restored into a scratch directory
// (its own, under `scratch_parent`), recovered to the latest WAL, to `target_time`, or to a
// random point of the PITR window (ops/source_checks.h), started on a free loopback port (as
// `server_os_user` when running as root), and checked:
//   - each of the source's `validate` queries, in its database, against its expectation: a
//     comparison ("= 500000", "> 0", ">=", "<", "<=", "!="), a literal (equal text), or "source"
//     (the same query on the live source gives the same value). ":target_time" in a query is
//     bound as a parameter (never spliced into the SQL) to the recovery target, or for a
//     recovery to the latest WAL to the last transaction replayed;
//   - every table whose row count the backup estimated: its count within row_count_tolerance
//     of the estimate (at least 100 rows of slack), when recovering to the backup's own end
//     (targets later than the backup change the counts by design, and are left to the queries).
// Files and command sources: the newest backup is restored into the scratch directory, which
// authenticates every chunk against its id, and every restored file's size is compared with the
// backup's record.
// The scratch copy is not made durable (no syncfs after the restore; the server runs with
// fsync=off): it is removed after the test, and a crash loses nothing that matters.
// The RTO is from the start of the restore to the end of validation; with the source's `rto`,
// exceeding it fails the test. The server is stopped and the scratch directory removed
// whatever happened (unless keep), so no process, port or directory is left behind. The
// result is returned and stored in the repository (`tests/…`), passed or failed.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/context.h"
#include "config/config.h"
#include "repo/repository.h"

namespace sr::ops {

struct RestoreTestOptions {
  const config::Config* config = nullptr;
  std::string repository = "primary";
  std::string source;
  std::string target_time;  // RFC 3339; "" = latest
  bool random_point = false;
  bool immediate = false;  // recover only to the backup's consistent point
  bool keep = false;       // leave the scratch directory (and server stopped) for inspection
  std::string scratch_parent = "/var/tmp";
  int64_t now_ns = 0;
  uint64_t random_seed = 0;  // for random_point (0: from the system RNG)
  // PostgreSQL: what the restored server's restore_command needs, and who runs the server.
  std::string repo_url, password_file, key_file, self_exe, ca_file, pg_bin;
  std::string config_file;     // absolute; the restore_command reads the repository from it
  std::string server_os_user;  // as root; default: the owner of the source's pg_data
};

struct ValidationResult {
  std::string name, query, database, expect, got, source_value;
  bool passed = false;
  std::string error;
};

struct RestoreTestResult {
  std::string source, type, kind, backup_id;
  std::string target;       // "latest", "time", "immediate", "backup"
  std::string target_time;  // RFC 3339, when a time was the target (or the last replayed)
  int64_t started_ns = 0, finished_ns = 0;
  double rto_seconds = 0;
  std::optional<int64_t> rto_target_s;
  uint64_t files = 0, bytes = 0;
  std::vector<ValidationResult> validations;
  bool passed = false;
  std::string error;      // why it failed, when not a validation (restore or start failed)
  std::string scratch;    // with keep: where it is
  std::string stored_as;  // the result's name in the repository

  nlohmann::json to_json() const;
};

// Throws only for usage errors (unknown source, no configuration); a restore or validation that
// fails is a failed result (stored too).
RestoreTestResult restore_test(repo::Repository& repo, const RestoreTestOptions& options,
                               const OpContext& ctx);

// Compares a query's value with an expectation other than "source": true when it holds.
bool expectation_holds(const std::string& expect, const std::string& got);

}  // namespace sr::ops

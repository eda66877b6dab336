// ops/backup.h: the backup use cases for files and command output.
//
// backup_files walks the given paths (source/file_walker), reuses the chunk lists of files that
// are unchanged since the parent backup (same size, mtime, ctime and inode, and not changed in
// the second before the parent started: timestamp granularity), reads the others through the
// chunk pipeline, and writes the tree stream, the index and the manifest, in that order. Files
// are read by `threads` file workers at once; their chunks are processed by the chunk pool.
// Unreadable files are skipped with a warning (logged as ctx.log().warn("backup", …) and counted
// in BackupResult::warnings); anything that would make the backup wrong (repository errors)
// aborts it with no manifest written. Both check ctx.check_cancelled() per chunk: a cancelled
// backup throws Errc::kCancelled and publishes no manifest (packs already published remain as
// leftovers that verify accepts and prune removes). Progress goes to ctx.progress.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/context.h"
#include "ops/block_file.h"
#include "ops/chunk_pipeline.h"
#include "repo/repository.h"
#include "source/file_walker.h"

namespace sr::ops {

struct FilesBackupOptions {
  std::vector<std::string> paths;
  std::vector<std::string> tags;
  std::string host;             // empty: this host's name
  std::string config_source;    // the configuration's source name, recorded in the manifest
  int lock_wait_seconds = 600;  // while expire or prune holds the exclusive lock
  bool scan_totals = false;     // count the tree first in a thread (for an ETA; needs ctx.progress)

  // For callers that build on a files backup (PostgreSQL):
  source::FilterFn filter;     // entries to leave out
  bool take_lock = true;       // false: the caller holds the repository lock
  bool save = true;            // false: the caller completes and saves the manifest
  std::string type = "files";  // manifest type
  std::string source;          // manifest source (default: the paths)
  // The backup whose unchanged files are reused. Unset: the newest backup of the same type,
  // paths and host. Set to nullopt-in-optional (has_value() with an empty id): no parent.
  std::optional<repo::Manifest> parent;
  // Files read page by page against the parent's block map (ops/block_file.h), e.g. PostgreSQL
  // relation segments; `pages` configures it.
  std::function<bool(const std::string& rel)> block_file;
  PageOptions pages;
};

struct CommandBackupOptions {
  std::string command, name;
  std::vector<std::string> tags;
  std::string host;
  std::string config_source;    // the configuration's source name, recorded in the manifest
  int lock_wait_seconds = 600;  // while expire or prune holds the exclusive lock
};

struct BackupResult {
  repo::Manifest manifest;
  uint64_t warnings = 0;
  uint64_t reused_files = 0;

  // What `backup --json` prints: the manifest's listing JSON plus "warnings".
  nlohmann::json to_json() const;
};

BackupResult backup_files(repo::Repository& repo, const FilesBackupOptions& options,
                          const OpContext& ctx);
BackupResult backup_command(repo::Repository& repo, const CommandBackupOptions& options,
                            const OpContext& ctx);

std::string host_name();
std::string user_name();

}  // namespace sr::ops

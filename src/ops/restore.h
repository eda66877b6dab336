// ops/restore.h: restoring a backup into a directory (files) or a file/stdout (command output).
//
// A restore never writes outside its target: every path in the tree is validated when decoded,
// and every file system operation resolves its parent directory with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS) relative to the target, so neither ".." nor a symlink placed by the backup
// (or already present in the target) can lead out of it. Files are written in parallel, a file in
// pieces of several chunks, with pwrite; holes of sparse files are left unwritten (the file is
// sized with ftruncate first). Directory metadata is applied in a second pass over the tree, and
// the target file system is synced (syncfs) before the restore reports success.
#pragma once

#include <string>

#include "ops/chunk_pipeline.h"
#include "repo/repository.h"

namespace sr::ops {

struct RestoreOptions {
  std::string target;
  bool force = false;  // allow a non-empty target (existing files are replaced)
  Counters* counters = nullptr;
};

struct RestoreResult {
  uint64_t files = 0, dirs = 0, bytes = 0;
};

RestoreResult restore_files(repo::Repository& repo, const repo::Manifest& m,
                            const RestoreOptions& options);
// Writes a command backup's output to `target` (a file path, or "-" for stdout).
RestoreResult restore_command(repo::Repository& repo, const repo::Manifest& m,
                              const std::string& target, bool force);

}  // namespace sr::ops

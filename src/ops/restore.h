// ops/restore.h: restoring a backup into a directory (files) or a file/stdout (command output).
//
// A restore never writes outside its target: every path in the tree is validated when decoded,
// and every file system operation resolves its parent directory with openat2(RESOLVE_BENEATH |
// RESOLVE_NO_SYMLINKS) relative to the target, so neither ".." nor a symlink placed by the backup
// (or already present in the target) can lead out of it. Files are written in parallel, a file in
// pieces of several chunks, with pwrite; holes of sparse files are left unwritten (the file is
// sized with ftruncate first). Directory metadata is applied in a second pass over the tree, and
// the target file system is synced (syncfs) before the restore reports success. How the bytes
// are written is RestoreOptions::write_mode.
// With delta, a file already in the target is rewritten in place only where it differs, and only
// when it is a regular file with a single link (otherwise it is replaced), so a hardlink into the
// target cannot make a restore modify a file elsewhere.
// Both restores check ctx.check_cancelled() per chunk; a cancelled restore throws
// Errc::kCancelled and leaves the target partly written. Progress goes to ctx.progress.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/context.h"
#include "ops/chunk_pipeline.h"
#include "repo/repository.h"

namespace sr::ops {

// How restored file contents reach the disk (docs/decisions/0006-restore-write-path.md).
// kBuffered: through the page cache, each written piece handed to writeback at once
// (sync_file_range), so dirty memory stays small and the final sync is short. kDirect: aligned
// pieces of new files of 1 MiB or more with O_DIRECT from one aligned buffer per thread (where
// the file system allows it), the rest buffered.
enum class WriteMode { kBuffered, kDirect };
// "buffered" / "direct"; throws Errc::kUsage for anything else.
WriteMode parse_write_mode(const std::string& s);

struct RestoreOptions {
  // A directory (files backups); a file path or "-" for stdout (command backups).
  std::string target;
  bool force = false;  // allow a non-empty target (existing files are replaced)
  // Delta restore into a target that already holds an older or damaged copy: what is not in the
  // backup is removed; a regular file already there is compared piece by piece (chunk ids, or
  // page hashes for block-structured files) and only the pieces or pages that differ are
  // written. Content is always compared, never trusted from sizes or times.
  bool delta = false;
  uint64_t page_hash_seed = 0;  // for block maps (ops/block_file.h page_hash_seed)
  // Directories of the backup restored elsewhere (PostgreSQL tablespaces): `dir` (relative, in
  // the backup) becomes a symlink in the target to `dest`, which receives its contents. `dest`
  // must be empty unless force or delta. With `inside` (a relative path, e.g.
  // "pg_tblspc_data/16384"), `dest` is the target's own <target>/<inside>: created and opened
  // beneath the target with no symlink followed; the backup may hold nothing under the first
  // component of `inside` (refused, Errc::kCorrupt) and a delta restore leaves it to the
  // relocated directories.
  struct Relocation {
    std::string dir, dest, inside;
  };
  std::vector<Relocation> relocate;
  // As root, a restore keeps what the backup recorded, as tar does (full-system restores):
  // owners, setuid/setgid bits, device nodes and FIFOs. Without same_owner, everything belongs to
  // the restoring user and setuid/setgid bits are dropped; without special_files, device nodes
  // and FIFOs (and hardlinks to them) are skipped, each with a warning, and counted.
  bool same_owner = true;
  // Synced before success (syncfs of every file system written). false only for a scratch
  // copy that is removed right after use (restore tests): nothing to make durable.
  bool durable = true;
  bool special_files = true;
  WriteMode write_mode = WriteMode::kBuffered;
};

struct RestoreResult {
  std::string id, target;  // the backup restored, and where to
  uint64_t files = 0, dirs = 0, bytes = 0;
  // Delta restores: bytes found identical in the target (not written), entries removed.
  uint64_t bytes_unchanged = 0, removed = 0;
  uint64_t special_skipped = 0;  // device nodes and FIFOs not restored (!special_files)
  double seconds = 0;            // from the start of the call until the target was synced

  // What `restore --json` prints: id, target, files, dirs, bytes, bytes_unchanged, removed,
  // seconds; special_skipped when not 0.
  nlohmann::json to_json() const;
};

RestoreResult restore_files(repo::Repository& repo, const repo::Manifest& m,
                            const RestoreOptions& options, const OpContext& ctx);
// Writes a command backup's output to options.target (a file path, or "-" for stdout); replaces
// an existing file only with options.force. The other options do not apply.
RestoreResult restore_command(repo::Repository& repo, const repo::Manifest& m,
                              const RestoreOptions& options, const OpContext& ctx);

}  // namespace sr::ops

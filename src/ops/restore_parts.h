// ops/restore_parts.h: the pieces restore_files (ops/restore.cc) is made of, exposed for their
// unit tests; not an API for other callers.
//
// File system side (restore_fs.cc): every operation resolves its parent directory beneath a
// root descriptor (openat2 with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS), so nothing a backup holds
// or a target already contains can lead a restore outside its target; the delta restore's first
// pass (what the target has that the backup does not).
// Contents (restore_writer.cc): a file's chunk list split into tasks, written with pwrite (and
// O_DIRECT where aligned); chunks that lie back to back in a pack are fetched with one ranged
// read; in a delta restore, only the pieces or pages that differ from the target are written.
// Writers check ctx.check_cancelled() per chunk and add to ctx.progress.
#pragma once

#include <fcntl.h>

#include <atomic>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "base/context.h"
#include "base/fs.h"
#include "repo/manifest.h"
#include "repo/repository.h"
#include "repo/tree.h"

namespace sr::ops::restore_parts {

// Opens `rel` (a directory, or "" for the root itself) beneath `root`; -1 with errno on failure.
int open_beneath(int root, const std::string& rel, uint64_t flags);
// Creates the directories of the relative path `rel` beneath `root` (each one that is missing,
// with `mode`; none may be a symlink) and returns the last one, open.
Fd mkdirs_beneath(int root, const std::string& rel, int mode);
// Writes `data` to the regular file `rel` beneath `root`, its directory reached with no symlink
// followed: appended to (created 0600 if absent), or replaced atomically (a temporary file
// renamed over whatever stands there). Anything at `rel` that is not a regular file (a symlink,
// a directory, a FIFO or device) is refused with Errc::kCorrupt before it is opened for
// appending. Used for every write a restore does after the tree (ops/pg_recovery_conf.h).
void write_beneath(int root, const std::string& rel, ByteSpan data, bool append);
// "a/b/c" → ("a/b", "c"); "c" → ("", "c").
std::pair<std::string, std::string> split_path(const std::string& path);

// Caches the parent directory descriptor: entries come grouped by directory.
class ParentDirs {
 public:
  int get(int root, const std::string& dir, const std::string& where) {
    if (fd_ && root == root_ && dir == dir_) return fd_.get();
    int fd = open_beneath(root, dir, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
      throw_errno("cannot open directory " + where + "/" + dir +
                  " (a path in the backup is not "
                  "a plain directory beneath the target)");
    fd_ = Fd(fd);
    root_ = root;
    dir_ = dir;
    return fd;
  }

 private:
  int root_ = -1;
  Fd fd_;
  std::string dir_;
};

// Where entries go: the target, or for a relocated directory (a tablespace) its destination.
struct Roots {
  struct Moved {
    std::string prefix, dest;
    Fd fd;
  };
  int target = -1;
  std::string target_path;
  std::vector<Moved> moved;
  // Top-level names in the target that hold relocated directories (RestoreOptions::Relocation
  // inside): not the backup's, never removed by a delta restore.
  std::vector<std::string> reserved;
  bool is_reserved(const std::string& path) const {
    for (const auto& r : reserved)
      if (path.compare(0, r.size(), r) == 0 && (path.size() == r.size() || path[r.size()] == '/'))
        return true;
    return false;
  }
  // The relocated directory `path` is, if any.
  const Moved* relocated(const std::string& path) const {
    for (const auto& m : moved)
      if (m.prefix == path) return &m;
    return nullptr;
  }
  // (root fd, path relative to it, root path for messages) of a path in the backup.
  std::tuple<int, std::string, std::string> locate(const std::string& path) const {
    for (const auto& m : moved)
      if (path.size() > m.prefix.size() && path.compare(0, m.prefix.size(), m.prefix) == 0 &&
          path[m.prefix.size()] == '/')
        return {m.fd.get(), path.substr(m.prefix.size() + 1), m.dest};
    return {target, path, target_path};
  }
};

void set_owner_and_times(int dirfd, const std::string& name, const repo::Entry& e, int flags);
// Owner (as root), mode and times of an open file or directory.
void set_fd_metadata(int fd, const repo::Entry& e);
// Removes what stands at `name` when it is in the way (a directory only when !want_dir, and
// only if empty).
void clear_existing(int dirfd, const std::string& name, bool want_dir);
// Everything in the directory `dirfd` (recursively, never following symlinks), as paths
// relative to it (after `prefix`) with a flag for directories.
void list_existing(int dirfd, const std::string& prefix,
                   std::vector<std::pair<std::string, bool>>& out);

// The merge of what a target has (`have`, sorted by path_less) with what the backup puts there
// (want(), in tree order): the indices of `have` to remove, because the backup lacks them or
// has the other type there (a directory for a file, or the reverse). Indices come in increasing
// order, so removing them in reverse removes children before their directory.
class ExtraneousFinder {
 public:
  explicit ExtraneousFinder(const std::vector<std::pair<std::string, bool>>& have);
  void want(const std::string& path, bool as_dir);
  std::vector<size_t> finish();

 private:
  const std::vector<std::pair<std::string, bool>>& have_;
  size_t i_ = 0;
  std::vector<size_t> remove_;
};

// Delta restore, first pass: removes from the directory `root` what the backup does not have
// there. `prefix` (a relocated directory, or "" for the target) limits the comparison to the
// entries beneath it; relocated directories inside the target are expected as symlinks.
// Returns the number of entries removed.
uint64_t remove_extraneous(repo::Repository& repo, const repo::Manifest& m, int root,
                           const std::string& prefix, const Roots& roots);

// A file being written by several tasks; the last one to finish applies its metadata.
struct OpenFile {
  Fd fd;
  repo::Entry entry;
  std::atomic<size_t> remaining{0};
  // Delta restore of a file already in the target: compare before writing.
  bool existing = false;
  std::vector<uint64_t> page_map;  // block-structured files: the backup's page hashes
  uint64_t page_hash_seed = 0;
  std::atomic<uint64_t>* unchanged = nullptr;
  // New large files: a second descriptor with O_DIRECT for aligned pieces (WriteMode::kDirect).
  Fd direct;
  // New files (WriteMode::kBuffered): each written piece is handed to writeback at once.
  bool early_writeback = false;
  std::atomic<bool> direct_ok{true};
};

// Delta restore of one piece: the pages (or the whole chunk) that differ from what the target
// holds at `offset`. Returns the [begin, end) byte ranges of the piece to write; empty when
// nothing differs.
std::vector<std::pair<size_t, size_t>> differing(OpenFile& f, const repo::ChunkRef& c,
                                                 uint64_t offset, repo::Repository& repo);

// Chunks [first, last) of a file, starting at byte `offset`: one write task.
struct TaskRange {
  size_t first = 0, last = 0;
  uint64_t offset = 0;
  bool operator==(const TaskRange&) const = default;
};
// Splits a chunk list into tasks of about `task_bytes` (the last may be smaller; none when
// there are no chunks).
std::vector<TaskRange> plan_tasks(const std::vector<repo::ChunkRef>& chunks, uint64_t task_bytes);

// Writes one task of `f`.
void write_file_range(repo::Repository& repo, OpenFile& f, const TaskRange& r,
                      const OpContext& ctx);
// Writes small files whole, with one span reader (their chunks usually lie back to back in a
// pack), and applies each one's metadata.
void write_small_files(repo::Repository& repo, const std::vector<std::shared_ptr<OpenFile>>& files,
                       const OpContext& ctx);

}  // namespace sr::ops::restore_parts

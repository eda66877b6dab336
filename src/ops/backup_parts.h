// ops/backup_parts.h: the pieces backup_files (ops/backup.cc) is made of, exposed for their unit
// tests; not an API for other callers.
//
// Reading sources (backup_parts.cc): entries from lstat results, regular files (sparse regions
// as holes) through the chunk pipeline, block-structured files page by page. Errors reading a
// source are Errc::kSourceUnreadable (the file is skipped with a warning); anything else (the
// repository, a cancellation) aborts the backup.
// Decisions (backup_parts.cc as well): which backup is the parent, when a parent's entry stands for
// a file unread, a backup's totals.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ops/block_file.h"
#include "ops/chunk_pipeline.h"
#include "repo/chunk_set.h"
#include "repo/manifest.h"
#include "repo/repository.h"
#include "repo/tree.h"
#include "source/file_walker.h"

namespace sr::ops::backup_parts {

// A file changed less than this before the parent backup started may have changed again within
// the same timestamp tick: it is read again.
constexpr int64_t kTimestampMarginNs = 1000000000;

// uid/gid → name, cached (getpwuid/getgrgid are slow and not thread-safe; one thread uses it).
class NameCache {
 public:
  const std::string& user(uid_t uid);
  const std::string& group(gid_t gid);

 private:
  std::map<uid_t, std::string> users_;
  std::map<gid_t, std::string> groups_;
};

// The tree entry of a walked item (no chunks, no link target). Throws kUnsupported for sockets.
repo::Entry entry_from_stat(const source::WalkItem& item, NameCache& names);

// Reads the regular file `abs` into e.chunks and e.size (sparse regions as holes).
void read_regular_file(ChunkPipeline& pipeline, const std::string& abs, repo::Entry& e);

// The first block number of a relation segment file: "16384.2" starts 2 GiB into the relation.
uint32_t segment_block_base(const std::string& path, uint32_t page_size);

// Reads the block-structured file `abs` page by page against its parent entry (if any).
void read_block(repo::Repository& repo, WorkerPool& pool, const OpContext& ctx,
                const std::string& abs, const repo::Entry* parent, const PageOptions& pages,
                repo::Entry& e, const std::function<void(const std::string&)>& warn);

// The newest of `all` (oldest first) with this type and host and the same set of paths.
std::optional<repo::Manifest> newest_matching(const std::vector<repo::Manifest>& all,
                                              const std::string& type, const std::string& host,
                                              const std::vector<std::string>& paths);

// True when the parent's entry `p` stands for the file `e` unread: same path, a file of the
// same size, mtime, ctime and inode, and `e` not changed in the kTimestampMarginNs before the
// parent backup started at `parent_time_ns`. (Its chunks must also still be indexed.)
bool unchanged_since_parent(const repo::Entry& p, const repo::Entry& e, int64_t parent_time_ns);

// True when every chunk `p` references (data, deltas, block map) is in the index.
bool chunks_present(repo::Repository& repo, const repo::Entry& p);

// A backup's figures, accumulated from its entries in tree order: chunks shared by several
// files are stored (and counted in `stored`) once.
struct Totals {
  uint64_t size = 0, stored = 0, files = 0, dirs = 0;
  repo::ChunkSet seen;
  void add(const repo::Entry& e);
};

}  // namespace sr::ops::backup_parts

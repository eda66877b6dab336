// source/file_walker.h: walks directory trees in the tree stream's order.
//
// walk_paths() resolves the paths a user gave into a root directory and visits every entry below
// it depth first, children sorted by name bytes (the order path_less defines), with paths
// relative to the root. A single directory is its own root (its contents are the backup); several
// paths, or a file, are stored relative to their longest common ancestor, whose intermediate
// directories are visited too so their metadata is kept. Memory: one directory listing per level.
// Unreadable directories are reported through on_error and skipped.
#pragma once

#include <sys/stat.h>

#include <functional>
#include <string>
#include <vector>

namespace sr::source {

struct WalkItem {
  std::string rel;  // path relative to the root
  std::string abs;  // absolute path
  struct stat st;
};

struct WalkPlan {
  std::string root;
  std::vector<std::string> abs_paths;  // normalised, absolute, nested ones removed
};

// What to do with an entry: keep it (and walk into it), leave it out, or keep a directory
// without its contents (PostgreSQL's pg_wal/, pg_replslot/, … must exist but stay empty).
enum class Filter { kInclude, kExclude, kWithoutContents };
using FilterFn = std::function<Filter(WalkItem&)>;  // may rewrite item.st (follow a link)

// Normalises and checks the paths (they must exist); throws kUsage / kNotFound.
WalkPlan plan_walk(const std::vector<std::string>& paths);
void walk(const WalkPlan& plan, const std::function<void(const WalkItem&)>& visit,
          const std::function<void(const std::string& path, const std::string& error)>& on_error,
          const FilterFn& filter = nullptr);

}  // namespace sr::source

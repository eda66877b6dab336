// pg/data_dir.h: which parts of a PostgreSQL data directory a backup takes.
//
// Follows PostgreSQL's documentation on base backups: runtime files (postmaster.pid, .opts),
// labels and signals of earlier backups/recoveries, pg_internal.init, temporary files and
// relations, and the contents of pg_wal, pg_replslot, pg_dynshmem, pg_notify, pg_serial,
// pg_snapshots, pg_stat_tmp and pg_subtrans are left out (the directories themselves are kept).
// Unlogged relations are left out except their init fork. A symlinked pg_wal is stored as an
// empty directory; tablespace links in pg_tblspc are followed, so tablespaces are stored (and
// restored) as directories in place. Not thread-safe (it caches the current directory's list).
#pragma once

#include <set>
#include <string>

#include "source/file_walker.h"

namespace sr::pg {

class DataDirFilter {
 public:
  explicit DataDirFilter(std::string data_dir) : data_dir_(std::move(data_dir)) {}
  source::Filter operator()(source::WalkItem& item);
  // True for files of relations, whose 8 KiB pages carry checksums.
  static bool is_relation_file(const std::string& rel);

 private:
  bool unlogged(const std::string& dir_abs, const std::string& name);
  std::string data_dir_;
  std::string init_dir_;              // directory whose init forks are cached
  std::set<std::string> init_forks_;  // relfilenodes with an _init fork in init_dir_
};

}  // namespace sr::pg

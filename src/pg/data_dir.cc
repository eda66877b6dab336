#include "pg/data_dir.h"

#include <dirent.h>
#include <sys/stat.h>

#include <array>
#include <cstring>

#include "base/fs.h"

namespace sr::pg {

namespace {
const std::array<const char*, 8> kEmptyDirs = {"pg_wal",      "pg_replslot", "pg_dynshmem",
                                               "pg_notify",   "pg_serial",   "pg_snapshots",
                                               "pg_stat_tmp", "pg_subtrans"};
const std::array<const char*, 11> kSkipFiles = {
    "postmaster.pid",   "postmaster.opts",          "backup_label",        "backup_label.old",
    "tablespace_map",   "tablespace_map.old",       "recovery.signal",     "standby.signal",
    "pg_internal.init", "postgresql.auto.conf.tmp", "current_logfiles.tmp"};

bool all_digits(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos;
}

// "16384", "16384.1", "16384_fsm", "16384_vm.2", "16384_init": the relfilenode, else "".
std::string relfilenode_of(const std::string& name) {
  size_t end = name.find_first_of("._");
  std::string node = name.substr(0, end);
  return all_digits(node) ? node : "";
}

bool in_relation_dir(const std::string& rel) {
  return rel.rfind("base/", 0) == 0 || rel.rfind("global/", 0) == 0 ||
         rel.rfind("pg_tblspc/", 0) == 0;
}
}  // namespace

bool DataDirFilter::is_relation_file(const std::string& rel) {
  return in_relation_dir(rel) && !relfilenode_of(basename_of(rel)).empty();
}

bool DataDirFilter::unlogged(const std::string& dir_abs, const std::string& name) {
  if (dir_abs != init_dir_) {  // entries of one directory come together: list it once
    init_dir_ = dir_abs;
    init_forks_.clear();
    if (DIR* d = ::opendir(dir_abs.c_str())) {
      while (struct dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n.size() > 5 && n.compare(n.size() - 5, 5, "_init") == 0)
          init_forks_.insert(n.substr(0, n.size() - 5));
      }
      ::closedir(d);
    }
  }
  std::string node = relfilenode_of(name);
  if (node.empty() || !init_forks_.count(node)) return false;
  return name.find("_init") == std::string::npos;  // keep the init fork itself
}

source::Filter DataDirFilter::operator()(source::WalkItem& item) {
  const std::string& rel = item.rel;
  std::string name = basename_of(rel);
  bool top = rel.find('/') == std::string::npos;
  if (top) {
    for (const char* d : kEmptyDirs)
      if (rel == d) {
        if (S_ISLNK(item.st.st_mode)) {  // a symlinked pg_wal: keep an empty directory
          struct stat st;
          if (::stat(item.abs.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) item.st = st;
        }
        return source::Filter::kWithoutContents;
      }
  }
  for (const char* f : kSkipFiles)
    if (name == f && !S_ISDIR(item.st.st_mode)) return source::Filter::kExclude;
  if (name.rfind("pgsql_tmp", 0) == 0) return source::Filter::kExclude;
  // Tablespace links: follow them (stored as directories, restored in place).
  if (rel.rfind("pg_tblspc/", 0) == 0 && rel.find('/', 10) == std::string::npos &&
      S_ISLNK(item.st.st_mode)) {
    struct stat st;
    if (::stat(item.abs.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) item.st = st;
  }
  if (S_ISREG(item.st.st_mode) && in_relation_dir(rel)) {
    // Temporary relations: t<backend>_<relfilenode>…
    if (name.size() > 2 && name[0] == 't' && std::isdigit(static_cast<unsigned char>(name[1])) &&
        name.find('_') != std::string::npos)
      return source::Filter::kExclude;
    std::string dir = item.abs.substr(0, item.abs.rfind('/'));
    if (unlogged(dir, name)) return source::Filter::kExclude;
  }
  return source::Filter::kInclude;
}

}  // namespace sr::pg

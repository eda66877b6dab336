#include "ops/wal_spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "base/fs.h"
#include "base/time_util.h"
#include "base/worker_pool.h"
#include "ops/wal_archive.h"
#include "pg/lsn.h"

namespace sr::ops {

namespace {
std::string base_name(const std::string& path) {
  auto pos = path.rfind('/');
  return pos == std::string::npos ? path : path.substr(pos + 1);
}

std::vector<std::string> spooled(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d))
    if (pg::is_archive_file_name(e->d_name)) out.emplace_back(e->d_name);
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}
}  // namespace

std::string spool_wal(const std::string& spool_dir, const std::string& path) {
  std::string name = base_name(path);
  if (!pg::is_archive_file_name(name))
    throw Error(Errc::kUsage, "'" + name + "' is not a file PostgreSQL archives");
  mkdirs(spool_dir, 0700);
  std::string dst = spool_dir + "/" + name;
  Bytes content = read_file(path);
  if (path_exists(dst)) {
    if (read_file(dst) == content) return dst;  // a retry of the same file
    throw Error(Errc::kAlreadyExists, "the spool already holds a different " + name);
  }
  write_file_atomic(dst, content);
  return dst;
}

size_t spooled_count(const std::string& spool_dir) { return spooled(spool_dir).size(); }

bool run_pusher(const std::function<std::unique_ptr<repo::Repository>()>& open_repo,
                const std::string& stanza, const std::string& spool_dir, double idle_seconds,
                const std::function<void(const std::string&)>& log) {
  mkdirs(spool_dir, 0700);
  Fd lock = open_or_throw(spool_dir + "/pusher.lock", O_RDWR | O_CREAT, 0600);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return false;  // another pusher runs
  std::unique_ptr<repo::Repository> repo;
  double idle_since = monotonic_seconds(), backoff = 0.5;
  for (;;) {
    auto files = spooled(spool_dir);
    if (files.empty()) {
      if (monotonic_seconds() - idle_since > idle_seconds) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      continue;
    }
    try {
      if (!repo) repo = open_repo();
      WorkerPool pool(2, 4);
      for (const auto& name : files)
        pool.submit([&, name] {
          std::string p = spool_dir + "/" + name;
          wal_push(*repo, stanza, p);  // durable in the repository when it returns
          ::unlink(p.c_str());
        });
      pool.wait();
      fsync_dir(spool_dir);
      backoff = 0.5;
    } catch (const Error& e) {
      // The repository is unreachable or refuses: keep the files, try again later.
      if (log) log(std::string("pushing the spool failed: ") + e.what() + "; retrying");
      repo.reset();
      std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(backoff * 1000)));
      backoff = std::min(backoff * 2, 30.0);
    }
    idle_since = monotonic_seconds();
  }
}

}  // namespace sr::ops

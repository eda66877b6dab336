#include "ops/wal_spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <mutex>
#include <optional>
#include <set>
#include <thread>

#include "base/fs.h"
#include "base/random.h"
#include "base/time_util.h"
#include "base/worker_pool.h"
#include "ops/wal_archive.h"
#include "base/lsn.h"

namespace sr::ops {

namespace {
// How long a call waits for a healthy pusher before pushing its segment itself.
constexpr double kWaitForPusherSeconds = 30;

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
  if (path_exists(dst)) {
    MappedFile have(dst), given(path);
    if (std::ranges::equal(have.span(), given.span())) return dst;  // a retry of the same file
    throw Error(Errc::kAlreadyExists, "the spool already holds a different " + name);
  }
  // Copied by the kernel (copy_file_range: no user-space buffer), fsynced, renamed into place.
  Fd in = open_or_throw(path, O_RDONLY);
  std::string tmp = spool_dir + "/.tmp-" + name + "-" + random_hex(6);
  Fd out = open_or_throw(tmp, O_WRONLY | O_CREAT | O_EXCL, 0600);
  try {
    for (;;) {
      ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, 1 << 30, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) throw_errno("cannot copy " + path + " into the spool");
      if (n == 0) break;
    }
    if (::fsync(out.get()) != 0) throw_errno("cannot fsync " + tmp);
    if (::rename(tmp.c_str(), dst.c_str()) != 0) throw_errno("cannot rename " + tmp);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_dir(spool_dir);
  return dst;
}

size_t spooled_count(const std::string& spool_dir) { return spooled(spool_dir).size(); }

void note_wal_source(const std::string& spool_dir, const std::string& path) {
  mkdirs(spool_dir, 0700);
  char buf[PATH_MAX];
  std::string dir = dirname_of(path);
  if (!::realpath(dir.c_str(), buf)) return;  // no look-ahead; the call pushes its own file
  std::string source = buf;
  std::string file = spool_dir + "/source";
  if (path_exists(file) && as_chars(read_file(file)) == source) return;
  write_file_atomic(file, as_bytes(source));
}

bool pusher_running(const std::string& spool_dir) {
  Fd lock(::open((spool_dir + "/pusher.lock").c_str(), O_RDWR | O_CLOEXEC));
  if (!lock) return false;
  if (::flock(lock.get(), LOCK_SH | LOCK_NB) == 0) return false;  // nobody holds it exclusively
  return true;
}

namespace {
// `.ready` segments (and history/backup files) in the source's archive_status, oldest first.
std::vector<std::string> ready_files(const std::string& pg_wal) {
  std::vector<std::string> out;
  DIR* d = ::opendir((pg_wal + "/archive_status").c_str());
  if (!d) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 6 && n.compare(n.size() - 6, 6, ".ready") == 0 &&
        pg::is_archive_file_name(n.substr(0, n.size() - 6)))
      out.push_back(n.substr(0, n.size() - 6));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

void touch(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
  if (fd >= 0) ::close(fd);
}
}  // namespace

AsyncPush async_push(const std::function<std::unique_ptr<repo::Repository>()>& open_repo,
                     const std::string& stanza, const std::string& spool_dir,
                     const std::string& path, const std::function<void(const std::string&)>& log) {
  std::string name = base_name(path);
  if (!pg::is_archive_file_name(name))
    throw Error(Errc::kUsage, "'" + name + "' is not a file PostgreSQL archives");
  const std::string done = spool_dir + "/done/" + name;
  const std::string ready = dirname_of(path) + "/archive_status/" + name + ".ready";
  // A healthy pusher gets to every .ready segment, oldest first, which is the one PostgreSQL
  // asks for: wait for it rather than compete with it for the cores. Push here only if it
  // died, reports failures, or takes too long.
  const double give_up = monotonic_seconds() + kWaitForPusherSeconds;
  const std::string refused = spool_dir + "/refused/" + name;
  for (int i = 0; !path_exists(done); ++i) {
    if (path_exists(refused)) break;  // the repository refuses it: push here, and fail loudly
    if (i % 50 == 0 && (!pusher_running(spool_dir) || path_exists(spool_dir + "/failing") ||
                        !path_exists(ready) || monotonic_seconds() > give_up))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  if (path_exists(done)) return AsyncPush::kPushedAhead;
  // The pusher cannot reach the repository: spool at once (it pushes the spool when it can),
  // rather than make PostgreSQL wait for this call's own retries to fail too.
  if (!path_exists(refused) && path_exists(spool_dir + "/failing") && pusher_running(spool_dir)) {
    spool_wal(spool_dir, path);
    return AsyncPush::kSpooled;
  }
  try {
    auto repo = open_repo();
    wal_push(*repo, stanza, path);
    touch(done);  // so that the pusher does not push it again
    return AsyncPush::kPushed;
  } catch (const Error& e) {
    if (e.code() == Errc::kUsage || e.code() == Errc::kAlreadyExists) throw;
    if (log)
      log(std::string("the repository cannot take ") + name + " now (" + e.what() +
          "); spooled, the pusher retries");
  }
  spool_wal(spool_dir, path);
  return AsyncPush::kSpooled;
}

bool run_pusher(const std::function<std::unique_ptr<repo::Repository>()>& open_repo,
                const std::string& stanza, const std::string& spool_dir, double idle_seconds,
                const std::function<void(const std::string&)>& log) {
  mkdirs(spool_dir, 0700);
  Fd lock = open_or_throw(spool_dir + "/pusher.lock", O_RDWR | O_CREAT, 0600);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return false;  // another pusher runs
  mkdirs(spool_dir + "/done", 0700);
  mkdirs(spool_dir + "/refused", 0700);
  // One worker per core plus one: while a worker waits for its segment to be read or its object
  // to reach the disk, the others keep the cores busy (100 md5-text segments: 38 segments/s
  // against 35 with one per core). Each holds a mapped segment and a sealed object (~24 MiB).
  const size_t workers = WorkerPool::default_threads() + 1;
  const size_t max_in_flight = workers + 1;  // segments in flight at once (running or queued)
  std::unique_ptr<repo::Repository> repo;
  std::mutex mu;
  std::set<std::string> in_flight;
  std::optional<std::string> failure;
  double idle_since = monotonic_seconds(), backoff = 0.5, last_sweep = 0;
  WorkerPool pool(workers, max_in_flight);
  const std::string failing = spool_dir + "/failing";  // tells calls not to wait for us
  ::unlink(failing.c_str());                           // a former pusher's
  auto finish = [&](const std::string& name, const std::optional<std::string>& error) {
    std::lock_guard g(mu);
    in_flight.erase(name);
    if (error && !failure) failure = error;
    if (error) touch(failing);
  };
  for (;;) {
    std::string source;
    if (path_exists(spool_dir + "/source")) source = as_chars(read_file(spool_dir + "/source"));
    std::vector<std::string> ready =
        source.empty() ? std::vector<std::string>{} : ready_files(source);
    auto files = spooled(spool_dir);
    const std::vector<std::string> done_list = spooled(spool_dir + "/done");
    const std::set<std::string> done(done_list.begin(), done_list.end());
    const std::vector<std::string> refused_list = spooled(spool_dir + "/refused");
    const std::set<std::string> refused(refused_list.begin(), refused_list.end());
    const std::set<std::string> in_spool(files.begin(), files.end());
    std::vector<std::string> ahead;  // .ready, not pushed yet, not waiting in the spool
    for (const auto& n : ready)
      if (!done.count(n) && !in_spool.count(n) && !refused.count(n)) ahead.push_back(n);
    bool busy;
    {
      std::lock_guard g(mu);
      busy = !in_flight.empty();
    }
    if (files.empty() && ahead.empty() && !busy) {
      // Markers of segments PostgreSQL has archived since (no longer .ready) are spent.
      if (monotonic_seconds() - last_sweep > 5 && !source.empty()) {
        const std::set<std::string> still(ready.begin(), ready.end());
        for (const auto& n : done)
          if (!still.count(n)) ::unlink((spool_dir + "/done/" + n).c_str());
        for (const auto& n : refused)
          if (!still.count(n)) ::unlink((spool_dir + "/refused/" + n).c_str());
        last_sweep = monotonic_seconds();
      }
      if (monotonic_seconds() - idle_since > idle_seconds) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      continue;
    }
    idle_since = monotonic_seconds();
    {
      std::lock_guard g(mu);
      if (failure) {
        // The repository is unreachable or refuses: calls spool meanwhile; try again later.
        if (log) log("pushing failed: " + *failure + "; retrying");
        failure.reset();
        repo.reset();
      }
    }
    if (!repo) {
      try {
        repo = open_repo();
        backoff = 0.5;
      } catch (const Error& e) {
        touch(failing);
        if (log) log(std::string("cannot open the repository: ") + e.what() + "; retrying");
        std::this_thread::sleep_for(std::chrono::milliseconds(static_cast<int>(backoff * 1000)));
        backoff = std::min(backoff * 2, 30.0);
        continue;
      }
    }
    // Spooled files first (the oldest backlog), then segments ahead of PostgreSQL's calls.
    std::vector<std::pair<std::string, bool>> next;  // (name, from the spool)
    for (const auto& n : files) next.emplace_back(n, true);
    for (const auto& n : ahead) next.emplace_back(n, false);
    // A backlog is pushed one file per core (no splitting, no thread per part); a lone segment
    // is compressed on all cores, for the lowest latency.
    const size_t parts = next.size() > 1 ? 1 : 0;
    bool submitted = false;
    for (const auto& item : next) {
      const std::string name = item.first;
      const bool spooled_file = item.second;
      {
        std::lock_guard g(mu);
        if (failure || in_flight.size() >= max_in_flight) break;
        if (!in_flight.insert(name).second) continue;
      }
      submitted = true;
      std::string from = spooled_file ? spool_dir + "/" + name : source + "/" + name;
      pool.submit([&, name, from, spooled_file, parts] {
        std::optional<std::string> error;
        try {
          // Still waiting to be archived (once archived, PostgreSQL may recycle the file), and
          // not pushed by a call meanwhile?
          if (spooled_file || (path_exists(source + "/archive_status/" + name + ".ready") &&
                               !path_exists(spool_dir + "/done/" + name))) {
            wal_push(*repo, stanza, from, parts);  // durable in the repository when it returns
            if (spooled_file)
              ::unlink(from.c_str());
            else
              touch(spool_dir + "/done/" + name);
          }
        } catch (const Error& e) {
          // A segment archived and recycled meanwhile reads as missing or different: not a
          // repository failure. A segment the repository refuses (different content, another
          // cluster) is left to PostgreSQL's own call, which fails loudly. Anything else is a
          // failure of the repository.
          bool gone = !spooled_file && !path_exists(source + "/archive_status/" + name + ".ready");
          if (!gone && !spooled_file &&
              (e.code() == Errc::kAlreadyExists || e.code() == Errc::kUsage)) {
            touch(spool_dir + "/refused/" + name);
            if (log) log(name + " refused: " + e.what() + " (archive_command will report it)");
          } else if (!gone) {
            error = e.what();
          }
        }
        if (!error) ::unlink(failing.c_str());
        finish(name, error);
      });
    }
    if (!submitted) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    if (!files.empty()) fsync_dir(spool_dir);
  }
  pool.wait();
  return true;
}

}  // namespace sr::ops

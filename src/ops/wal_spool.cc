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
#include "base/lsn.h"
#include "base/random.h"
#include "base/time_util.h"
#include "base/worker_pool.h"
#include "ops/wal_archive.h"

namespace sr::ops {

namespace {
// How long a call waits for a healthy pusher before pushing its segment itself.
constexpr double kWaitForPusherSeconds = 30;

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
  std::string name = pg::archive_file_name_of(path);
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

// Sleeps, waking early when the context is cancelled.
void pause(const OpContext& ctx, double seconds) {
  if (ctx.cancel)
    ctx.cancel->wait_for(seconds);
  else
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
}

// A healthy pusher gets to every .ready segment, oldest first, which is the one PostgreSQL asks
// for: wait for it rather than compete with it for the cores. Stops waiting when the segment is
// done or refused, or the pusher died, reports failures, or takes too long.
void wait_for_pusher(const std::string& spool_dir, const std::string& done,
                     const std::string& refused, const std::string& ready) {
  const double give_up = monotonic_seconds() + kWaitForPusherSeconds;
  for (int i = 0; !path_exists(done); ++i) {
    if (path_exists(refused)) break;  // the repository refuses it: push here, and fail loudly
    if (i % 50 == 0 && (!pusher_running(spool_dir) || path_exists(spool_dir + "/failing") ||
                        !path_exists(ready) || monotonic_seconds() > give_up))
      break;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}
}  // namespace

namespace spool {

Scan scan(const std::string& spool_dir) {
  Scan s;
  if (path_exists(spool_dir + "/source")) s.source = as_chars(read_file(spool_dir + "/source"));
  if (!s.source.empty()) s.ready = ready_files(s.source);
  s.spooled = spooled(spool_dir);
  for (auto& n : spooled(spool_dir + "/done")) s.done.insert(std::move(n));
  for (auto& n : spooled(spool_dir + "/refused")) s.refused.insert(std::move(n));
  return s;
}

std::vector<std::pair<std::string, bool>> next_pushes(const Scan& s) {
  std::vector<std::pair<std::string, bool>> next;
  for (const auto& n : s.spooled) next.emplace_back(n, true);
  const std::set<std::string> in_spool(s.spooled.begin(), s.spooled.end());
  for (const auto& n : s.ready)
    if (!s.done.count(n) && !in_spool.count(n) && !s.refused.count(n)) next.emplace_back(n, false);
  return next;
}

std::vector<std::string> spent_markers(const std::set<std::string>& markers,
                                       const std::vector<std::string>& ready) {
  const std::set<std::string> still(ready.begin(), ready.end());
  std::vector<std::string> out;
  for (const auto& n : markers)
    if (!still.count(n)) out.push_back(n);
  return out;
}

}  // namespace spool

nlohmann::json AsyncPushResult::to_json() const {
  return {{"file", file},
          {"result", how == AsyncPush::kPushedAhead ? "pushed ahead"
                     : how == AsyncPush::kPushed    ? "pushed"
                                                    : "spooled"}};
}

AsyncPushResult async_push(const RepoOpener& open_repo, const AsyncPushOptions& o,
                           const OpContext& ctx) {
  const std::string& spool_dir = o.spool_dir;
  const std::string& path = o.path;
  std::string name = pg::archive_file_name_of(path);
  AsyncPushResult result{path, AsyncPush::kPushed};
  const std::string done = spool_dir + "/done/" + name;
  const std::string ready = dirname_of(path) + "/archive_status/" + name + ".ready";
  const std::string refused = spool_dir + "/refused/" + name;
  wait_for_pusher(spool_dir, done, refused, ready);
  if (path_exists(done)) return result.how = AsyncPush::kPushedAhead, result;
  // The pusher cannot reach the repository: spool at once (it pushes the spool when it can),
  // rather than make PostgreSQL wait for this call's own retries to fail too.
  if (!path_exists(refused) && path_exists(spool_dir + "/failing") && pusher_running(spool_dir)) {
    spool_wal(spool_dir, path);
    return result.how = AsyncPush::kSpooled, result;
  }
  try {
    auto repo = open_repo();
    wal_push(*repo, {o.stanza, path, 0}, ctx);
    touch(done);  // so that the pusher does not push it again
    return result;
  } catch (const Error& e) {
    if (e.code() == Errc::kUsage || e.code() == Errc::kAlreadyExists ||
        e.code() == Errc::kCancelled)
      throw;
    ctx.log().warn("wal-push", std::string("the repository cannot take ") + name + " now (" +
                                   e.what() + "); spooled, the pusher retries");
  }
  spool_wal(spool_dir, path);
  return result.how = AsyncPush::kSpooled, result;
}

namespace {
// One run of the pusher (see wal_spool.h), holding the spool's lock.
class Pusher {
 public:
  Pusher(const RepoOpener& open_repo, const PusherOptions& o, const OpContext& ctx)
      : open_repo_(open_repo), o_(o), ctx_(ctx), failing_(o.spool_dir + "/failing") {}

  void run() {
    ::unlink(failing_.c_str());  // a former pusher's
    double idle_since = monotonic_seconds();
    while (!ctx_.cancelled()) {
      spool::Scan s = spool::scan(o_.spool_dir);
      auto next = spool::next_pushes(s);
      if (next.empty() && !busy()) {
        sweep(s);
        if (monotonic_seconds() - idle_since > o_.idle_seconds) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        continue;
      }
      idle_since = monotonic_seconds();
      if (!ensure_repository()) continue;
      if (!submit(s, next)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
      if (!s.spooled.empty()) fsync_dir(o_.spool_dir);
    }
    pool_.wait();
  }

 private:
  bool busy() {
    std::lock_guard g(mu_);
    return !in_flight_.empty();
  }

  // Markers of segments PostgreSQL has archived since (no longer .ready) are spent.
  void sweep(const spool::Scan& s) {
    if (monotonic_seconds() - last_sweep_ <= 5 || s.source.empty()) return;
    for (const auto& n : spool::spent_markers(s.done, s.ready))
      ::unlink((o_.spool_dir + "/done/" + n).c_str());
    for (const auto& n : spool::spent_markers(s.refused, s.ready))
      ::unlink((o_.spool_dir + "/refused/" + n).c_str());
    last_sweep_ = monotonic_seconds();
  }

  // After a failure, reopens the repository (with a growing pause while it cannot be opened).
  bool ensure_repository() {
    {
      std::lock_guard g(mu_);
      if (failure_) {
        // The repository is unreachable or refuses: calls spool meanwhile; try again later.
        ctx_.log().warn("pusher", "pushing failed: " + *failure_ + "; retrying");
        failure_.reset();
        repo_.reset();  // tasks in flight keep their own reference
      }
    }
    if (repo_) return true;
    try {
      repo_ = open_repo_();
      backoff_ = 0.5;
      return true;
    } catch (const Error& e) {
      touch(failing_);
      ctx_.log().warn("pusher",
                      std::string("cannot open the repository: ") + e.what() + "; retrying");
      pause(ctx_, backoff_);
      backoff_ = std::min(backoff_ * 2, 30.0);
      return false;
    }
  }

  // Hands the next files to the pool, up to max_in_flight; returns whether any was submitted.
  bool submit(const spool::Scan& s, const std::vector<std::pair<std::string, bool>>& next) {
    // A backlog is pushed one file per core (no splitting, no thread per part); a lone segment
    // is compressed on all cores, for the lowest latency.
    const size_t parts = next.size() > 1 ? 1 : 0;
    bool submitted = false;
    for (const auto& [name, from_spool] : next) {
      {
        std::lock_guard g(mu_);
        if (failure_ || in_flight_.size() >= max_in_flight_) break;
        if (!in_flight_.insert(name).second) continue;
      }
      submitted = true;
      pool_.submit(
          [this, name = name, from_spool = from_spool, parts, source = s.source, repo = repo_] {
            std::optional<std::string> error = push(*repo, source, name, from_spool, parts);
            if (!error) ::unlink(failing_.c_str());
            finish(name, error);
          });
    }
    return submitted;
  }

  // Pushes one file; returns the error that makes the repository count as failing, if any.
  std::optional<std::string> push(repo::Repository& repo, const std::string& source,
                                  const std::string& name, bool from_spool, size_t parts) {
    const std::string from = from_spool ? o_.spool_dir + "/" + name : source + "/" + name;
    const std::string ready = source + "/archive_status/" + name + ".ready";
    try {
      // Still waiting to be archived (once archived, PostgreSQL may recycle the file), and not
      // pushed by a call meanwhile?
      if (from_spool || (path_exists(ready) && !path_exists(o_.spool_dir + "/done/" + name))) {
        wal_push(repo, {o_.stanza, from, parts}, {});  // durable in the repository on return
        if (from_spool)
          ::unlink(from.c_str());
        else
          touch(o_.spool_dir + "/done/" + name);
      }
    } catch (const Error& e) {
      // A segment archived and recycled meanwhile reads as missing or different: not a
      // repository failure. A segment the repository refuses (different content, another
      // cluster) is left to PostgreSQL's own call, which fails loudly. Anything else is a
      // failure of the repository.
      bool gone = !from_spool && !path_exists(ready);
      if (!gone && !from_spool && (e.code() == Errc::kAlreadyExists || e.code() == Errc::kUsage)) {
        touch(o_.spool_dir + "/refused/" + name);
        ctx_.log().warn("pusher",
                        name + " refused: " + e.what() + " (archive_command will report it)");
      } else if (!gone) {
        return std::string(e.what());
      }
    }
    return std::nullopt;
  }

  void finish(const std::string& name, const std::optional<std::string>& error) {
    std::lock_guard g(mu_);
    in_flight_.erase(name);
    if (error && !failure_) failure_ = error;
    if (error) touch(failing_);
  }

  const RepoOpener& open_repo_;
  const PusherOptions& o_;
  const OpContext& ctx_;
  const std::string failing_;  // tells calls not to wait for us
  std::shared_ptr<repo::Repository> repo_;
  std::mutex mu_;
  std::set<std::string> in_flight_;
  std::optional<std::string> failure_;
  double backoff_ = 0.5, last_sweep_ = 0;
  // One worker per core plus one: while a worker waits for its segment to be read or its
  // object to reach the disk, the others keep the cores busy (100 md5-text segments: 38
  // segments/s against 35 with one per core). Each holds a mapped segment and a sealed object
  // (~24 MiB). Last: its destructor waits for tasks that use the state above.
  const size_t workers_ = WorkerPool::default_threads() + 1;
  const size_t max_in_flight_ = workers_ + 1;  // segments in flight (running or queued)
  WorkerPool pool_{workers_, max_in_flight_};
};
}  // namespace

bool run_pusher(const RepoOpener& open_repo, const PusherOptions& options, const OpContext& ctx) {
  mkdirs(options.spool_dir, 0700);
  Fd lock = open_or_throw(options.spool_dir + "/pusher.lock", O_RDWR | O_CREAT, 0600);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) return false;  // another pusher runs
  mkdirs(options.spool_dir + "/done", 0700);
  mkdirs(options.spool_dir + "/refused", 0700);
  Pusher(open_repo, options, ctx).run();
  return true;
}

}  // namespace sr::ops

// repo/lock.h: repository locks (locks/<id>).
//
// A lock is an object naming its holder (a random holder id, host, pid, operation, kind) and a
// refresh sequence number. Shared locks (backups, restores) coexist; an exclusive lock (prune,
// key removal) excludes every other lock. To take a lock, a process writes its own lock object
// first, then lists the others: with no conflict it holds the lock; with one it removes its own
// and fails with kLocked. (Two racing exclusive lockers may both fail; neither can both succeed.)
//
// A holder refreshes its lock every `refresh_every` (5 minutes) by writing a new object with the
// same holder id and the next sequence number, then removing the old one (no overwrite, for
// object stores). When `refresh_attempts` refreshes in a row fail, the holder gives up: it marks
// the Repository's lock as lost, and the repository refuses to publish index objects and
// manifests from then on (kLocked), so the operation fails rather than running on unlocked.
//
// Staleness never compares clocks of different hosts. A lock is stale when
//   - it cannot be read (garbage, another key, damaged): it is reported and `unlock` removes it;
//   - it belongs to a process on this host that no longer exists; or
//   - this reader saw the same holder with the same sequence number at two observations more than
//     `stale_after` (30 minutes) apart by the reader's own clock. Observations are kept in the
//     index cache directory (<cache_dir>/<repository id>/lock-observations.json), in memory when
//     there is none, so a lock left by a crashed remote host blocks until it has been seen
//     unchanged for the stale interval, e.g. by a first failed attempt and a later `unlock`.
// Stale locks never block; acquire reports each one with a warning naming it.
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "base/bytes.h"
#include "base/log.h"
#include "repo/repository.h"

namespace sr::repo {

struct LockTiming {
  std::chrono::nanoseconds stale_after = std::chrono::minutes(30);
  std::chrono::milliseconds refresh_every = std::chrono::minutes(5);
  int refresh_attempts = 3;  // failed refreshes in a row after which the holder stops
};

struct LockInfo {
  std::string id, holder, host, operation;
  int64_t pid = 0;
  bool exclusive = false;
  int64_t time_ns = 0;  // the holder's clock: shown to people, never used to judge staleness
  uint64_t seq = 0;
  bool readable = true;
  bool stale = false;
  std::string stale_reason;  // when stale: why, for the warning
};

// The lock record of locks/<id> from its opened envelope's payload (JSON). Throws Error
// (kCorrupt) or nlohmann::json::exception on a payload that is not a lock record; both make the
// lock unreadable, hence stale. (Exposed for fuzz/lock_fuzz.cc.)
LockInfo decode_lock(const std::string& id, ByteSpan payload);

class RepoLock {
 public:
  // Throws Errc::kLocked naming the holder when a conflicting lock is held. Stale locks met are
  // warned about on `log` (when given) and kept in stale_seen().
  static std::unique_ptr<RepoLock> acquire(Repository& repo, const std::string& operation,
                                           bool exclusive, log::Logger* log = nullptr,
                                           const LockTiming& timing = {});
  // For readers (restore, verify): a shared lock when the repository is writable. Only when the
  // storage is read-only (writing its lock object fails with EROFS/EACCES/EPERM, or kAuth /
  // kPermanent from an object store that refuses writes) does it return nullptr so the reader goes
  // on unlocked; every other failure (a conflict, a network error) is thrown.
  static std::unique_ptr<RepoLock> acquire_for_reading(Repository& repo,
                                                       const std::string& operation,
                                                       log::Logger* log = nullptr,
                                                       const LockTiming& timing = {});
  ~RepoLock();  // stops refreshing, removes the lock object
  // Every lock object, staleness judged as above (this records an observation).
  static std::vector<LockInfo> list(Repository& repo, const LockTiming& timing = {});
  // Removes stale locks (unreadable ones included); returns how many.
  static size_t remove_stale(Repository& repo, const LockTiming& timing = {});
  const std::vector<LockInfo>& stale_seen() const { return stale_seen_; }
  // False once the refresher gave up (the repository then refuses to publish).
  bool held() const { return !lost_.load(); }

 private:
  RepoLock(Repository& repo, LockInfo info, LockTiming timing)
      : repo_(repo), info_(std::move(info)), timing_(timing) {}
  static std::unique_ptr<RepoLock> acquire_impl(Repository& repo, const std::string& operation,
                                                bool exclusive, log::Logger* log,
                                                const LockTiming& timing, bool reading);
  void write();
  void refresh_loop(std::stop_token st);
  Repository& repo_;
  LockInfo info_;
  LockTiming timing_;
  std::vector<LockInfo> stale_seen_;
  std::atomic<bool> lost_{false};
  std::jthread refresher_;
};

}  // namespace sr::repo

// repo/lock.h: repository locks (locks/<id>).
//
// A lock is an object naming its holder (host, pid, operation, kind) and the time it was last
// refreshed. Shared locks (backups, restores) coexist; an exclusive lock (prune, key removal)
// excludes every other lock. To take a lock, a process writes its own lock object first, then
// lists the others: with no conflict it holds the lock; with one it removes its own and fails.
// (Two racing exclusive lockers may both fail; neither can both succeed.) A holder refreshes its
// lock every 5 minutes by writing a new object and removing the old one (no overwrite, for object
// stores). A lock is stale when it was not refreshed for 30 minutes, or when it belongs to a
// process on this host that no longer exists. Stale locks never block and are reported.
#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "repo/repository.h"

namespace sr::repo {

struct LockInfo {
  std::string id, host, operation;
  int64_t pid = 0;
  bool exclusive = false;
  int64_t time_ns = 0;
  bool stale = false;
};

class RepoLock {
 public:
  // Throws Errc::kLocked naming the holder when a conflicting lock is held.
  static std::unique_ptr<RepoLock> acquire(Repository& repo, const std::string& operation,
                                           bool exclusive);
  // For readers (restore, verify): a shared lock when the repository is writable; on read-only
  // media (the lock cannot be written) it returns nullptr and the reader goes on unlocked.
  static std::unique_ptr<RepoLock> acquire_for_reading(Repository& repo,
                                                       const std::string& operation);
  ~RepoLock();  // removes the lock object
  static std::vector<LockInfo> list(Repository& repo);
  // Removes stale locks; returns how many.
  static size_t remove_stale(Repository& repo);
  const std::vector<LockInfo>& stale_seen() const { return stale_seen_; }

 private:
  RepoLock(Repository& repo, LockInfo info) : repo_(repo), info_(std::move(info)) {}
  void write();
  Repository& repo_;
  LockInfo info_;
  std::vector<LockInfo> stale_seen_;
  std::jthread refresher_;
};

}  // namespace sr::repo

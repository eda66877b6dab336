#include "repo/lock.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "base/json_util.h"
#include "base/random.h"
#include "base/time_util.h"
#include "repo/envelope.h"

namespace sr::repo {

using nlohmann::json;

namespace {
constexpr int64_t kStaleAfterNs = 30LL * 60 * 1000000000;
constexpr std::chrono::milliseconds kRefreshEvery = std::chrono::minutes(5);

std::string this_host() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

bool process_alive(int64_t pid) {
  if (pid <= 0) return false;
  return ::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

std::optional<LockInfo> load(Repository& repo, const std::string& id) {
  std::string key = "locks/" + id;
  try {
    Bytes payload =
        open_envelope(repo.keys().meta_key, EnvelopeKind::kLock, key, repo.storage().get(key));
    json j = json::parse(as_chars(payload));
    LockInfo l;
    l.id = id;
    l.host = j.at("host").get<std::string>();
    l.pid = json_int<int64_t>(j, "pid", key);
    l.operation = j.at("operation").get<std::string>();
    l.exclusive = j.at("exclusive").get<bool>();
    l.time_ns = json_int<int64_t>(j, "time_ns", key);
    l.stale =
        now_ns() - l.time_ns > kStaleAfterNs || (l.host == this_host() && !process_alive(l.pid));
    return l;
  } catch (const Error& e) {
    if (e.code() == Errc::kNotFound) return std::nullopt;  // released meanwhile
    throw;
  } catch (const json::exception&) {
    throw Error(Errc::kCorrupt, key + " is damaged");
  }
}
}  // namespace

void RepoLock::write() {
  info_.time_ns = now_ns();
  std::string key = "locks/" + info_.id;
  json j = {{"host", info_.host},           {"pid", info_.pid},
            {"operation", info_.operation}, {"exclusive", info_.exclusive},
            {"time_ns", info_.time_ns},     {"time", format_rfc3339(info_.time_ns)}};
  repo_.storage().put(
      key, seal_envelope(repo_.keys().meta_key, EnvelopeKind::kLock, key, as_bytes(j.dump())),
      true);
}

std::vector<LockInfo> RepoLock::list(Repository& repo) {
  std::vector<std::string> ids;
  repo.storage().list("locks/",
                      [&](const storage::ObjectInfo& o) { ids.push_back(o.key.substr(6)); });
  std::vector<LockInfo> out;
  for (const auto& id : ids)
    if (auto l = load(repo, id)) out.push_back(*l);
  return out;
}

size_t RepoLock::remove_stale(Repository& repo) {
  size_t n = 0;
  for (const auto& l : list(repo))
    if (l.stale) {
      repo.storage().remove("locks/" + l.id);
      ++n;
    }
  return n;
}

std::unique_ptr<RepoLock> RepoLock::acquire(Repository& repo, const std::string& operation,
                                            bool exclusive) {
  LockInfo mine{random_hex(16), this_host(), operation, static_cast<int64_t>(::getpid()),
                exclusive,      0,           false};
  auto lock = std::unique_ptr<RepoLock>(new RepoLock(repo, mine));
  lock->write();
  for (const auto& other : list(repo)) {
    if (other.id == lock->info_.id) continue;
    if (other.stale) {
      lock->stale_seen_.push_back(other);
      continue;
    }
    if (exclusive || other.exclusive) {
      std::string msg =
          "repository is locked" + std::string(other.exclusive ? " exclusively" : "") + " by '" +
          other.operation + "' (host " + other.host + ", pid " + std::to_string(other.pid) +
          ", since " + format_rfc3339(other.time_ns) +
          "); wait for it to finish, or if that process is gone run `strongroom unlock`";
      lock.reset();  // removes ours
      throw Error(Errc::kLocked, msg);
    }
  }
  lock->refresher_ = std::jthread([l = lock.get()](std::stop_token st) {
    while (sleep_for(st, kRefreshEvery)) {
      std::string old = l->info_.id;
      try {
        l->info_.id = random_hex(16);
        l->write();
      } catch (const Error&) {
        // Retried next round; the old lock stays valid until it is 30 minutes old.
        l->info_.id = old;
        continue;
      }
      try {
        l->repo_.storage().remove("locks/" + old);
      } catch (const Error&) {
        // A leftover of our own becomes stale in 30 minutes; `unlock` removes it.
      }
    }
  });
  return lock;
}

std::unique_ptr<RepoLock> RepoLock::acquire_for_reading(Repository& repo,
                                                        const std::string& operation) {
  try {
    return acquire(repo, operation, false);
  } catch (const Error& e) {
    if (e.code() == Errc::kIo) return nullptr;  // cannot write locks/: read-only repository
    throw;
  }
}

RepoLock::~RepoLock() {
  if (refresher_.joinable()) {
    refresher_.request_stop();
    refresher_.join();
  }
  try {
    repo_.storage().remove("locks/" + info_.id);
  } catch (const Error&) {
  }
}

}  // namespace sr::repo

#include "repo/lock.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <map>
#include <mutex>

#include "base/fs.h"
#include "base/json_util.h"
#include "base/random.h"
#include "base/time_util.h"
#include "repo/envelope.h"

namespace sr::repo {

using nlohmann::json;

LockInfo decode_lock(const std::string& id, ByteSpan payload) {
  const std::string key = "locks/" + id;
  LockInfo l;
  l.id = id;
  json j = json::parse(as_chars(payload));
  l.host = j.at("host").get<std::string>();
  l.pid = json_int<int64_t>(j, "pid", key);
  l.operation = j.at("operation").get<std::string>();
  l.exclusive = j.at("exclusive").get<bool>();
  l.time_ns = json_int<int64_t>(j, "time_ns", key);
  // Locks of older versions have neither: each object is then its own holder at sequence 0.
  l.holder = j.contains("holder") ? j.at("holder").get<std::string>() : id;
  l.seq = json_int_or<uint64_t>(j, "seq", 0, key);
  return l;
}

namespace {

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
  LockInfo l;
  l.id = id;
  try {
    Bytes payload = open_envelope(repo.keys(), EnvelopeKind::kLock, key, repo.storage().get(key));
    return decode_lock(id, payload);
  } catch (const Error& e) {
    if (e.code() == Errc::kNotFound) return std::nullopt;                     // released meanwhile
    if (e.code() != Errc::kCorrupt && e.code() != Errc::kUnsupported) throw;  // e.g. network
    l.stale_reason = std::string("cannot be read (") + e.what() + ")";
  } catch (const json::exception&) {
    l.stale_reason = "cannot be read (damaged)";
  }
  l.readable = false;
  l.stale = true;
  return l;
}

// What this host saw of each holder: the sequence number and when (this host's clock) it was
// first seen with it. Kept in the cache directory, or in memory when there is none.
struct Observation {
  uint64_t seq = 0;
  int64_t first_seen_ns = 0;
};
using Observations = std::map<std::string, Observation>;

std::mutex observations_mu;
std::map<std::string, Observations>& memory_observations() {
  static std::map<std::string, Observations> m;
  return m;
}

std::string observations_path(Repository& repo) {
  const std::string& dir = repo.options().cache_dir;
  if (dir.empty()) return "";
  return dir + "/" + repo.config().id + "/lock-observations.json";
}

Observations read_observations(Repository& repo) {
  std::string path = observations_path(repo);
  if (path.empty() || !path_exists(path)) return memory_observations()[repo.config().id];
  Observations out;
  try {
    json j = json::parse(as_chars(read_file(path)));
    for (const auto& [holder, v] : j.items())
      out[holder] = {json_int<uint64_t>(v, "seq", path), json_int<int64_t>(v, "seen_ns", path)};
  } catch (const std::exception&) {
    return {};  // a damaged cache file: start observing again (never judges a lock stale sooner)
  }
  return out;
}

void save_observations(Repository& repo, const Observations& obs) {
  memory_observations()[repo.config().id] = obs;
  std::string path = observations_path(repo);
  if (path.empty()) return;
  json j = json::object();
  for (const auto& [holder, o] : obs) j[holder] = {{"seq", o.seq}, {"seen_ns", o.first_seen_ns}};
  try {
    mkdirs(dirname_of(path), 0700);
    write_file_atomic(path, as_bytes(j.dump()));
  } catch (const Error&) {
    // Not writable: observations stay in memory for this process.
  }
}

// Marks stale the readable locks whose holder is gone (this host) or did not move its sequence
// for longer than timing.stale_after between two observations of this reader.
void judge(Repository& repo, std::vector<LockInfo>& locks, const LockTiming& timing) {
  std::map<std::string, uint64_t> newest;  // holder -> highest sequence seen now
  for (const auto& l : locks)
    if (l.readable) newest[l.holder] = std::max(newest[l.holder], l.seq);
  std::lock_guard guard(observations_mu);
  Observations before = read_observations(repo), after;
  int64_t now = now_ns();
  std::map<std::string, std::string> stale;  // holder -> reason
  for (const auto& [holder, seq] : newest) {
    auto it = before.find(holder);
    if (it != before.end() && it->second.seq == seq) {
      after[holder] = it->second;
      int64_t unchanged = now - it->second.first_seen_ns;
      if (unchanged > timing.stale_after.count())
        stale[holder] = "not refreshed (sequence " + std::to_string(seq) + ") for " +
                        std::to_string(unchanged / 1000000000) + " s as seen from this host";
    } else {
      after[holder] = {seq, now};
    }
  }
  save_observations(repo, after);
  const std::string host = this_host();
  for (auto& l : locks) {
    if (!l.readable) continue;
    if (l.host == host && !process_alive(l.pid)) {
      l.stale = true;
      l.stale_reason = "its process " + std::to_string(l.pid) + " on this host is gone";
    } else if (auto s = stale.find(l.holder); s != stale.end()) {
      l.stale = true;
      l.stale_reason = s->second;
    }
  }
}

// True when a failure to write our lock object means the storage cannot be written at all.
bool read_only_failure(const Error& e) {
  if (e.code() == Errc::kAuth || e.code() == Errc::kPermanent) return true;  // refused writes
  if (e.code() != Errc::kIo) return false;
  std::string msg = e.what();
  for (int err : {EROFS, EACCES, EPERM})
    if (msg.find(std::strerror(err)) != std::string::npos) return true;
  return false;
}

}  // namespace

void RepoLock::write() {
  info_.time_ns = now_ns();
  std::string key = "locks/" + info_.id;
  json j = {{"host", info_.host},           {"pid", info_.pid},
            {"operation", info_.operation}, {"exclusive", info_.exclusive},
            {"holder", info_.holder},       {"seq", info_.seq},
            {"time_ns", info_.time_ns},     {"time", format_rfc3339(info_.time_ns)}};
  repo_.storage().put(
      key, seal_envelope(repo_.keys(), EnvelopeKind::kLock, key, as_bytes(j.dump())), true);
}

std::vector<LockInfo> RepoLock::list(Repository& repo, const LockTiming& timing) {
  std::vector<std::string> ids;
  repo.storage().list("locks/",
                      [&](const storage::ObjectInfo& o) { ids.push_back(o.key.substr(6)); });
  std::vector<LockInfo> out;
  for (const auto& id : ids)
    if (auto l = load(repo, id)) out.push_back(*l);
  judge(repo, out, timing);
  return out;
}

size_t RepoLock::remove_stale(Repository& repo, const LockTiming& timing) {
  size_t n = 0;
  for (const auto& l : list(repo, timing))
    if (l.stale) {
      repo.storage().remove("locks/" + l.id);
      ++n;
    }
  return n;
}

namespace {
std::string conflict_message(const LockInfo& other) {
  return "repository is locked" + std::string(other.exclusive ? " exclusively" : "") + " by '" +
         other.operation + "' (host " + other.host + ", pid " + std::to_string(other.pid) +
         ", refreshed " + std::to_string(other.seq) + " times, its clock said " +
         format_rfc3339(other.time_ns) +
         "); wait for it to finish, or if that process is gone run `strongroom unlock` (a lock "
         "of another host counts as gone once seen unchanged for 30 minutes)";
}
}  // namespace

std::unique_ptr<RepoLock> RepoLock::acquire(Repository& repo, const std::string& operation,
                                            bool exclusive, log::Logger* log,
                                            const LockTiming& timing) {
  return acquire_impl(repo, operation, exclusive, log, timing, false);
}

std::unique_ptr<RepoLock> RepoLock::acquire_impl(Repository& repo, const std::string& operation,
                                                 bool exclusive, log::Logger* log,
                                                 const LockTiming& timing, bool reading) {
  LockInfo mine;
  mine.id = random_hex(16);
  mine.holder = random_hex(16);
  mine.host = this_host();
  mine.operation = operation;
  mine.pid = static_cast<int64_t>(::getpid());
  mine.exclusive = exclusive;
  auto lock = std::unique_ptr<RepoLock>(new RepoLock(repo, mine, timing));
  try {
    lock->write();
  } catch (const Error& e) {
    // Only a storage that cannot be written at all lets a reader go on unlocked.
    if (!reading || !read_only_failure(e)) throw;
    if (log) log->info("lock", "the repository is read-only: " + operation + " without a lock");
    return nullptr;
  }
  for (const auto& other : list(repo, timing)) {
    if (other.holder == lock->info_.holder) continue;
    if (other.stale) {
      if (log)
        log->warn("lock", "ignoring stale lock locks/" + other.id + ": " + other.stale_reason +
                              "; `strongroom unlock` removes it");
      lock->stale_seen_.push_back(other);
      continue;
    }
    if (exclusive || other.exclusive) {
      std::string msg = conflict_message(other);
      lock.reset();  // removes ours
      throw Error(Errc::kLocked, msg);
    }
  }
  lock->refresher_ = std::jthread([l = lock.get()](std::stop_token st) { l->refresh_loop(st); });
  return lock;
}

void RepoLock::refresh_loop(std::stop_token st) {
  int failures = 0;
  while (sleep_for(st, timing_.refresh_every)) {
    std::string old = info_.id;
    try {
      info_.id = random_hex(16);
      ++info_.seq;
      write();
      failures = 0;
    } catch (const Error& e) {
      info_.id = old;
      --info_.seq;
      if (++failures >= timing_.refresh_attempts) {
        // Others will judge this lock stale: stop rather than run on without a valid lock.
        lost_ = true;
        repo_.mark_lock_lost("the repository lock could not be refreshed " +
                             std::to_string(failures) + " times in a row (" + e.what() +
                             "); the operation stopped so that it does not run on unlocked");
        return;
      }
      continue;
    }
    try {
      repo_.storage().remove("locks/" + old);
    } catch (const Error&) {
      // A leftover of our own: the same holder, an older sequence; `unlock` removes it later.
    }
  }
}

std::unique_ptr<RepoLock> RepoLock::acquire_for_reading(Repository& repo,
                                                        const std::string& operation,
                                                        log::Logger* log,
                                                        const LockTiming& timing) {
  return acquire_impl(repo, operation, false, log, timing, true);
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

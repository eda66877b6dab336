// daemon/state_db.h: the daemon's own facts in an embedded SQLite database (state_dir/state.db):
// job history, when each schedule last fired, and alert state. Nothing here is needed to
// restore: the catalog (backups, restore tests, WAL) is always read from the repository, and a
// lost state database only forgets job logs, the schedule bookkeeping and alert history.
// Thread-safe (one connection behind a mutex; the daemon's writes are few and small).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace sr::daemon {

struct JobRecord {
  int64_t id = 0;
  std::string source;      // "" for repository-wide jobs
  std::string repository;  // the repository it works on
  std::string job;         // backup | verify | restore-test | expire | prune | replicate | stream
  std::string type;        // postgres backups: full | diff | incr
  std::string trigger;     // schedule | startup | manual
  std::string schedule;    // the schedule key that queued it ("" when manual)
  std::string state;       // queued | running | ok | failed | cancelled
  int64_t queued_ns = 0, start_ns = 0, end_ns = 0;
  uint64_t bytes = 0;  // what the job added/copied/freed, when it says
  std::string error;
  std::string result;  // the command's --json result (bounded)
  std::string log_path;
};

struct AlertRecord {
  int64_t id = 0;
  std::string key;  // rule + "/" + source (unique while firing)
  std::string rule, source, severity, summary;
  std::string state;  // firing | resolved
  int64_t since_ns = 0, resolved_ns = 0, last_notified_ns = 0;
  int notifications = 0;
  bool resolve_notified = false;
};

class StateDb {
 public:
  explicit StateDb(const std::string& path);  // "" = in memory (tests)
  ~StateDb();
  StateDb(const StateDb&) = delete;
  StateDb& operator=(const StateDb&) = delete;

  int64_t add_job(const JobRecord& job);  // returns its id
  void update_job(const JobRecord& job);
  std::optional<JobRecord> job(int64_t id);
  // Newest first; source "" = all.
  std::vector<JobRecord> jobs(const std::string& source, size_t limit);
  // The newest finished job of each (source, job, type).
  std::vector<JobRecord> last_finished_jobs();
  // Forgets finished jobs that ended before `before_ns`, keeping at least `keep` newest ones;
  // returns their log files (for the caller to remove).
  std::vector<std::string> forget_jobs(int64_t before_ns, size_t keep);
  // Jobs left queued or running by a daemon that stopped: marked failed ("daemon stopped").
  size_t close_unfinished(int64_t now_ns);

  std::optional<int64_t> last_fire(const std::string& schedule_key);
  void set_last_fire(const std::string& schedule_key, int64_t fire_s);
  std::optional<int64_t> meta_int(const std::string& key);
  void set_meta_int(const std::string& key, int64_t value);

  std::vector<AlertRecord> firing_alerts();
  // Firing first, then resolved since `resolved_since_ns`, newest first.
  std::vector<AlertRecord> alerts(int64_t resolved_since_ns, size_t limit);
  void save_alert(AlertRecord& alert);  // inserts (sets id) or updates
  // Forgets alerts resolved (and their resolution sent) before `before_ns`.
  void forget_alerts(int64_t before_ns);

 private:
  void exec(const char* sql);
  std::mutex mu_;
  sqlite3* db_ = nullptr;
};

}  // namespace sr::daemon

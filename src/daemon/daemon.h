// daemon/daemon.h: `strongroom serve`: runs the configured schedules, keeps WAL streaming up,
// refreshes the catalog snapshot, evaluates alerts, and answers the HTTP API through the
// methods below (daemon/http_api.h is the thin HTTP adapter). docs/daemon.md describes it.
//
// Threads: the scheduler loop (run()), one per running job (it waits for the job's process),
// one per WAL stream, and the catalog refresher (which also evaluates alerts and sends their
// notifications). None polls: each sleeps on a condition variable until its next deadline or an
// event (a job finished, a job was requested, a reload, stop). Rules (docs/daemon.md, "How jobs
// run"): one job per slot (a source; a repository's repository-wide jobs), at most
// max_concurrent_jobs at once, a schedule is never queued twice.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "config/config.h"
#include "daemon/alerts.h"
#include "daemon/catalog.h"
#include "daemon/child.h"
#include "daemon/scheduler.h"
#include "daemon/state_db.h"

namespace sr::daemon {

struct DaemonOptions {
  std::string config_file;       // absolute
  std::string self_exe;          // the strongroom binary the jobs run
  std::function<int64_t()> now;  // the clock (ns); app/ offsets it for --now
  RepoOpener open_repository;    // by configuration name
  log::Logger* log = nullptr;    // the daemon's own log (stderr / journal)
  // Sends one alert message to one notifier (daemon/notify.h); throws when it could not.
  std::function<void(const config::NotifierConfig&, const nlohmann::json&)> deliver;
  std::string version;
};

struct StreamView {
  bool running = false;
  int restarts = 0;
  int64_t since_ns = 0;
};

// One source's entry of /api/status (docs/daemon.md).
nlohmann::json source_status_json(const config::SourceConfig& s, const Snapshot* snap,
                                  const std::vector<JobRecord>& last_jobs,
                                  const std::vector<Schedule>& schedules,
                                  const std::optional<StreamView>& stream,
                                  const std::vector<AlertRecord>& firing, int64_t now);
// A source this configuration does not have, seen in a repository (another daemon's): what its
// backups say; "configured": false.
nlohmann::json other_source_json(const std::string& name, const Snapshot& snap, int64_t now);
// `strongroom status` without a daemon: the same per-source entries from the repository alone
// (no job history, streams or alerts).
nlohmann::json offline_status_json(const config::Config& c, const Snapshot& snap, int64_t now);

class Daemon {
 public:
  Daemon(std::shared_ptr<const config::Config> config, DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until stop(): returns once running jobs finished (or were cancelled after
  // server.shutdown_timeout) and streams stopped.
  void run();
  // Asks run() to return (SIGTERM). A second call cancels running jobs at once.
  void stop();
  // SIGHUP: reads the configuration file again; a bad file is logged and the old one kept.
  // Returns false (with the reason in `error`) when the file was rejected.
  bool reload(std::string* error = nullptr);

  std::shared_ptr<const config::Config> config() const;
  // Queues a job (API, run-now); kUsage naming what is wrong. Returns its id.
  int64_t request_job(const std::string& job, const std::string& source, const std::string& type);

  // What the API serves (docs/daemon.md).
  bool ready() const;
  nlohmann::json status_json();
  nlohmann::json backups_json(const std::string& source, size_t limit);
  nlohmann::json jobs_json(const std::string& source, size_t limit);
  std::optional<std::string> job_log(int64_t id);  // nullopt: no such job
  nlohmann::json restore_tests_json(const std::string& source, size_t limit);
  nlohmann::json alerts_json();
  nlohmann::json repositories_json();
  std::string metrics_text();
  // status_json().dump() and metrics_text(), computed at most once a second and again whenever
  // a job changed state or the snapshot was refreshed: 50 dashboards and a Prometheus polling
  // at once cost one computation a second (docs/benchmarks.md, issue 13).
  std::string status_body();
  std::string metrics_body();

  StateDb& state() { return *db_; }
  std::shared_ptr<const Snapshot> snapshot() const;
  // Rebuilds the snapshot now and evaluates alerts (tests; the refresher does it on its own).
  void refresh_now();

 private:
  struct Running {
    JobRecord record;
    JobSpec spec;
    std::unique_ptr<Child> child;
    std::thread waiter;
    bool done = false;
  };
  struct Stream {
    std::string source, stanza, pg_conn, repository;  // what it was started with
    std::unique_ptr<Child> child;
    std::thread thread;
    int restarts = 0;
    int64_t since_ns = 0;
    std::atomic<bool> running{false};
  };

  int64_t now_ns() const { return opt_.now(); }
  void schedule_due(int64_t now_s);
  int64_t enqueue(const JobSpec& spec, const std::string& trigger, const std::string& schedule);
  void start_runnable();  // mu_ held
  void run_job(Running* r);
  void refresher();
  void stream_loop(Stream* s);
  void start_streams();
  // All streams, or (with a configuration) those it no longer has or has changed.
  void stop_streams(const config::Config* keep_unchanged_of = nullptr);
  void load_schedules();
  nlohmann::json job_json(const JobRecord& j) const;
  void log_info(const std::string& msg) const;
  void log_warn(const std::string& msg) const;

  DaemonOptions opt_;
  std::unique_ptr<StateDb> db_;
  std::string state_dir_;  // server.state_dir at start (a reload does not move it)
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::shared_ptr<const config::Config> config_;
  std::vector<Schedule> schedules_;
  std::deque<JobRecord> queue_;
  // Scheduled jobs queued or running: the schedule's last fire before they were queued, restored
  // when a shutdown cancels them, so the next start catches the run up (missed_run_grace).
  std::map<int64_t, std::pair<std::string, std::optional<int64_t>>> prev_fire_;
  std::map<int64_t, std::unique_ptr<Running>> running_;
  std::set<std::string> busy_slots_;
  std::map<std::string, std::unique_ptr<Stream>> streams_;
  bool stopping_ = false, cancel_now_ = false;
  int64_t started_ns_ = 0, first_start_s_ = 0;

  // Catalog refresher.
  mutable std::mutex snap_mu_;
  std::shared_ptr<const Snapshot> snapshot_;
  std::condition_variable refresh_cv_;
  bool refresh_requested_ = true;
  std::thread refresher_;
  std::unique_ptr<AlertEngine> alerts_;
  std::mutex refresh_run_mu_;   // one build at a time (refresher and refresh_now)
  CancelToken refresh_cancel_;  // stop(): a catalog build under way ends at its next step
  // Rendered answers (status_body, metrics_body) and what invalidates them.
  std::atomic<uint64_t> generation_{0};
  std::mutex render_mu_;
  struct Rendered {
    std::string body;
    uint64_t generation = ~0ull;
    double at = 0;
  } status_cache_, metrics_cache_;
  std::string rendered(Rendered& cache, const std::function<std::string()>& make);
};

}  // namespace sr::daemon

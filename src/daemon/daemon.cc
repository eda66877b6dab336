#include "daemon/daemon.h"

#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "base/time_util.h"
#include "daemon/jobs.h"

namespace sr::daemon {
namespace {

constexpr int64_t kNs = 1'000'000'000;

std::string host_name() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

Daemon::Daemon(std::shared_ptr<const config::Config> config, DaemonOptions options)
    : opt_(std::move(options)), config_(std::move(config)) {
  const auto& s = config_->server;
  state_dir_ = s.state_dir;
  std::filesystem::create_directories(std::filesystem::path(s.state_dir) / "logs");
  ::chmod(s.state_dir.c_str(), 0700);
  db_ = std::make_unique<StateDb>((std::filesystem::path(s.state_dir) / "state.db").string());
  started_ns_ = now_ns();
  auto first = db_->meta_int("first_start_s");
  if (!first) {
    first = started_ns_ / kNs;
    db_->set_meta_int("first_start_s", *first);
  }
  first_start_s_ = *first;
  if (size_t n = db_->close_unfinished(started_ns_))
    log_warn(std::to_string(n) + " job(s) left unfinished by the previous daemon marked failed");
  alerts_ = std::make_unique<AlertEngine>(
      *db_,
      [this](const config::NotifierConfig& n, const nlohmann::json& m) {
        if (!opt_.deliver) return false;
        {
          std::lock_guard lock(mu_);
          if (stopping_) return false;  // sent after the restart: SIGTERM does not wait for it
        }
        try {
          opt_.deliver(n, m);
          log_info("alert " + m.value("rule", "") + " " + m.value("source", "") + " (" +
                   m.value("event", "") + ") sent to " + n.name);
          return true;
        } catch (const std::exception& e) {
          log_warn(e.what());
          return false;
        }
      },
      host_name());
  load_schedules();
}

Daemon::~Daemon() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
    cancel_now_ = true;
  }
  cv_.notify_all();
  refresh_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  stop_streams();
  std::map<int64_t, std::unique_ptr<Running>> running;
  {
    std::lock_guard lock(mu_);
    running.swap(running_);
  }
  for (auto& [id, r] : running) {
    if (r->child) r->child->terminate();
    if (r->waiter.joinable()) r->waiter.join();
  }
}

void Daemon::log_info(const std::string& msg) const {
  if (opt_.log) opt_.log->info("serve", msg);
}
void Daemon::log_warn(const std::string& msg) const {
  if (opt_.log) opt_.log->warn("serve", msg);
}

std::shared_ptr<const config::Config> Daemon::config() const {
  std::lock_guard lock(mu_);
  return config_;
}

void Daemon::load_schedules() {
  schedules_ = schedules_of(*config_);
  // A schedule counts from when this daemon first saw it: one added by a reload (or while the
  // daemon was down) does not run at once for a fire that passed before it existed.
  const int64_t now_s = now_ns() / kNs;
  for (const auto& s : schedules_)
    if (!db_->last_fire(s.key)) db_->set_last_fire(s.key, now_s);
}

bool Daemon::reload(std::string* error) {
  std::shared_ptr<const config::Config> fresh;
  try {
    fresh = std::make_shared<const config::Config>(config::load_config(opt_.config_file));
    const auto& now = config_->server;
    if (fresh->server.state_dir != now.state_dir || fresh->server.listen != now.listen ||
        fresh->server.tls_cert != now.tls_cert || fresh->server.tls_key != now.tls_key)
      log_warn("server.state_dir, listen, tls_cert and tls_key take effect at the next start");
  } catch (const std::exception& e) {
    log_warn(std::string("reload rejected, the running configuration is kept: ") + e.what());
    if (error) *error = e.what();
    return false;
  }
  {
    std::lock_guard lock(mu_);
    config_ = fresh;
    load_schedules();
  }
  ++generation_;
  log_info("configuration reloaded from " + opt_.config_file);
  stop_streams(&*fresh);  // those no longer configured, or configured differently
  start_streams();
  cv_.notify_all();
  {
    std::lock_guard lock(snap_mu_);
    refresh_requested_ = true;
  }
  refresh_cv_.notify_all();
  return true;
}

int64_t Daemon::enqueue(const JobSpec& spec, const std::string& trigger,
                        const std::string& schedule) {
  // mu_ held by the caller.
  for (const auto& q : queue_)
    if (!schedule.empty() && q.schedule == schedule) return q.id;  // never queued twice
  for (const auto& [id, r] : running_)
    if (!schedule.empty() && r->record.schedule == schedule && !r->done) {
      log_info("schedule " + schedule + " is due again while its last run goes on: skipped");
      return id;
    }
  JobRecord j;
  j.source = spec.source;
  j.repository = spec.repository;
  j.job = spec.job;
  j.type = spec.type;
  j.trigger = trigger;
  j.schedule = schedule;
  j.state = "queued";
  j.queued_ns = now_ns();
  // The spec's target/option travel in `result` until the job runs (replaced by its output).
  j.result = nlohmann::json{{"to", spec.to}, {"option", spec.option}}.dump();
  j.id = db_->add_job(j);
  ++generation_;
  queue_.push_back(j);
  return j.id;
}

int64_t Daemon::request_job(const std::string& job, const std::string& source,
                            const std::string& type) {
  std::unique_lock lock(mu_);
  if (stopping_) throw Error(Errc::kUsage, "the daemon is stopping");
  JobSpec spec = manual_job(*config_, job, source, type);
  int64_t id = enqueue(spec, "manual", "");
  log_info("job " + std::to_string(id) + " requested: " + job +
           (source.empty() ? "" : " " + source));
  start_runnable();
  lock.unlock();
  cv_.notify_all();
  return id;
}

void Daemon::schedule_due(int64_t now_s) {
  std::map<std::string, int64_t> last;
  for (const auto& s : schedules_)
    if (auto f = db_->last_fire(s.key)) last[s.key] = *f;
  DuePlan plan = plan_due(schedules_, last, first_start_s_, started_ns_ / kNs, now_s,
                          config_->server.missed_run_grace);
  for (const auto& sk : plan.skipped) {
    log_warn("schedule " + sk.schedule->key + ": the run of " + format_rfc3339(sk.fire_s * kNs) +
             " was missed while the daemon was down and is older than missed_run_grace: skipped");
    db_->set_last_fire(sk.schedule->key, sk.fire_s);
  }
  for (const auto& d : plan.due) {
    std::optional<int64_t> prev =
        last.count(d.schedule->key) ? std::optional<int64_t>(last[d.schedule->key]) : std::nullopt;
    int64_t id = enqueue(d.schedule->spec, d.missed ? "startup" : "schedule", d.schedule->key);
    if (!prev_fire_.count(id)) prev_fire_[id] = {d.schedule->key, prev};
    db_->set_last_fire(d.schedule->key, d.fire_s);
  }
}

void Daemon::start_runnable() {
  // mu_ held.
  if (stopping_) return;
  for (auto it = queue_.begin(); it != queue_.end();) {
    size_t active = 0;
    for (const auto& [id, r] : running_)
      if (!r->done) ++active;
    if (active >= static_cast<size_t>(config_->server.max_concurrent_jobs)) return;
    JobSpec spec{it->job, it->source, it->repository, it->type, "", ""};
    auto extra = nlohmann::json::parse(it->result, nullptr, false);
    if (extra.is_object()) {
      spec.to = extra.value("to", "");
      spec.option = extra.value("option", "");
    }
    if (busy_slots_.count(spec.slot())) {
      ++it;
      continue;
    }
    auto r = std::make_unique<Running>();
    r->record = *it;
    r->spec = spec;
    r->record.state = "running";
    r->record.start_ns = now_ns();
    r->record.result.clear();
    r->record.log_path =
        (std::filesystem::path(state_dir_) / "logs" / (std::to_string(r->record.id) + ".log"))
            .string();
    db_->update_job(r->record);
    ++generation_;
    busy_slots_.insert(spec.slot());
    Running* raw = r.get();
    running_[r->record.id] = std::move(r);
    it = queue_.erase(it);
    raw->waiter = std::thread([this, raw] { run_job(raw); });
  }
}

void Daemon::run_job(Running* r) {
  std::string config_file;
  {
    std::lock_guard lock(mu_);
    config_file = opt_.config_file;
  }
  ChildOptions o;
  o.program = opt_.self_exe;
  o.argv = {"strongroom"};
  for (auto& a : job_arguments(r->spec, config_file)) o.argv.push_back(std::move(a));
  o.log_path = r->record.log_path;
  std::string desc = "job " + std::to_string(r->record.id) + " (" + r->spec.job +
                     (r->spec.source.empty() ? " " + r->spec.repository : " " + r->spec.source) +
                     (r->spec.type.empty() ? "" : " " + r->spec.type) + ")";
  log_info(desc + " started");
  std::optional<ChildExit> exit;
  try {
    auto child = Child::start(o);
    {
      std::lock_guard lock(mu_);
      r->child = std::move(child);
      if (cancel_now_) r->child->terminate();
    }
    exit = r->child->wait();
  } catch (const std::exception& e) {
    r->record.error = e.what();
  }
  JobRecord rec = r->record;
  rec.end_ns = now_ns();
  if (exit) {
    rec.result = exit->out.size() <= (1 << 20) ? exit->out : "";
    JobOutcome out = read_outcome(rec.job, exit->out);
    rec.bytes = out.bytes;
    bool cancelled = exit->signal == SIGTERM || exit->signal == SIGKILL || exit->exit_code == 130 ||
                     exit->exit_code == 143;
    if (exit->exit_code == 0 && out.error.empty()) {
      rec.state = "ok";
    } else {
      bool stopping;
      {
        std::lock_guard lock(mu_);
        stopping = stopping_;
      }
      rec.state = cancelled && stopping ? "cancelled" : "failed";
      rec.error = out.error;
      if (rec.error.empty()) {
        // The last line of its log says why (the CLI's error message).
        std::ifstream in(rec.log_path);
        std::string line, last;
        while (std::getline(in, line))
          if (!line.empty()) last = line;
        rec.error = last.empty()
                        ? (exit->signal ? "killed by signal " + std::to_string(exit->signal)
                                        : "exit status " + std::to_string(exit->exit_code))
                        : last.substr(0, 1000);
      }
    }
  } else {
    rec.state = "failed";
  }
  try {
    db_->update_job(rec);
    if (rec.state == "failed" && rec.job == "backup") {
      const std::string key = "backup_failures/" + rec.source;
      db_->set_meta_int(key, db_->meta_int(key).value_or(0) + 1);
    }
  } catch (const std::exception& e) {
    log_warn(desc + ": cannot record the result in the state database: " + e.what());
  }
  ++generation_;
  log_info(desc + " " + rec.state + (rec.error.empty() ? "" : ": " + rec.error));
  {
    std::lock_guard lock(mu_);
    r->record = rec;
    r->done = true;
    busy_slots_.erase(r->spec.slot());
  }
  {
    std::lock_guard lock(snap_mu_);
    refresh_requested_ = true;
  }
  refresh_cv_.notify_all();
  cv_.notify_all();
}

void Daemon::run() {
  refresher_ = std::thread([this] { refresher(); });
  start_streams();
  std::unique_lock lock(mu_);
  while (!stopping_) {
    // Reap finished jobs' threads.
    for (auto it = running_.begin(); it != running_.end();) {
      if (it->second->done) {
        auto r = std::move(it->second);
        prev_fire_.erase(it->first);
        it = running_.erase(it);
        lock.unlock();
        if (r->waiter.joinable()) r->waiter.join();
        lock.lock();
      } else {
        ++it;
      }
    }
    int64_t now = now_ns();
    try {
      schedule_due(now / kNs);
      start_runnable();
    } catch (const std::exception& e) {  // the state database (disk full, I/O): tried again
      log_warn(std::string("scheduling: ") + e.what());
    }
    // Sleep until the next fire (or an event). Schedules are re-planned at least every minute
    // (a clock step, a reload).
    DuePlan next = plan_due(schedules_, {}, now / kNs, now / kNs, now / kNs, 0);
    int64_t wake_s = now / kNs + 60;
    if (next.next_s > 0) wake_s = std::min(wake_s, next.next_s);
    auto delay = std::chrono::milliseconds(std::max<int64_t>(50, wake_s * 1000 - now / 1'000'000));
    cv_.wait_for(lock, delay);
  }
  // Shutdown: no new job; running ones get shutdown_timeout, then are cancelled (SIGTERM: the
  // CLI's cancellation leaves the repository valid), then killed.
  auto roll_back_fire = [&](int64_t id) {
    auto it = prev_fire_.find(id);
    if (it == prev_fire_.end()) return;
    if (it->second.second) db_->set_last_fire(it->second.first, *it->second.second);
    prev_fire_.erase(it);
  };
  for (auto& j : queue_) {
    j.state = "cancelled";
    j.end_ns = now_ns();
    j.error = "the daemon stopped before the job started";
    j.result.clear();
    try {
      db_->update_job(j);
      roll_back_fire(j.id);
    } catch (const std::exception& e) {
      log_warn(std::string("state database: ") + e.what());
    }
  }
  queue_.clear();
  auto deadline =
      std::chrono::steady_clock::now() + std::chrono::seconds(config_->server.shutdown_timeout);
  auto all_done = [&] {
    for (const auto& [id, r] : running_)
      if (!r->done) return false;
    return true;
  };
  if (!all_done()) log_info("waiting for running jobs to finish (shutdown_timeout)");
  while (!all_done() && !cancel_now_ && std::chrono::steady_clock::now() < deadline)
    cv_.wait_until(lock, deadline);
  if (!all_done()) {
    log_warn("cancelling the running jobs");
    for (auto& [id, r] : running_)
      if (r->child && !r->done) r->child->terminate();
    auto kill_at = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    while (!all_done() && std::chrono::steady_clock::now() < kill_at) cv_.wait_until(lock, kill_at);
    for (auto& [id, r] : running_)
      if (r->child && !r->done) r->child->kill();
  }
  for (auto& [id, r] : running_)
    if (r->done && r->record.state == "cancelled") {
      try {
        roll_back_fire(id);
      } catch (const std::exception& e) {
        log_warn(std::string("state database: ") + e.what());
      }
    }
  auto running = std::move(running_);
  running_.clear();
  lock.unlock();
  for (auto& [id, r] : running)
    if (r->waiter.joinable()) r->waiter.join();
  stop_streams();
  refresh_cv_.notify_all();
  if (refresher_.joinable()) refresher_.join();
  log_info("stopped");
}

void Daemon::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      cancel_now_ = true;
      for (auto& [id, r] : running_)
        if (r->child && !r->done) r->child->terminate();
    }
    stopping_ = true;
  }
  refresh_cancel_.cancel();
  cv_.notify_all();
  {
    std::lock_guard lock(snap_mu_);  // the refresher checks stopping_ holding snap_mu_
  }
  refresh_cv_.notify_all();
}

}  // namespace sr::daemon

// daemon/daemon_background.cc: the daemon's background threads besides the scheduler loop:
// WAL streams (kept running, restarted with backoff) and the catalog refresher (snapshot,
// alerts, job-history upkeep, the rendered answers). Split from daemon.cc, which runs jobs.
#include <malloc.h>
#include <signal.h>

#include <filesystem>

#include "base/time_util.h"
#include "daemon/daemon.h"
#include "daemon/jobs.h"

namespace sr::daemon {
namespace {
constexpr int64_t kNs = 1'000'000'000;
}  // namespace

// --- WAL streaming ---------------------------------------------------------------------------

void Daemon::start_streams() {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  for (const auto& s : config_->sources) {
    if (!s.stream || streams_.count(s.name)) continue;
    auto st = std::make_unique<Stream>();
    st->source = s.name;
    st->stanza = s.stanza;
    st->pg_conn = s.pg_conn;
    st->repository = s.repository;
    Stream* raw = st.get();
    streams_[s.name] = std::move(st);
    raw->thread = std::thread([this, raw] { stream_loop(raw); });
  }
}

void Daemon::stop_streams(const config::Config* keep_unchanged_of) {
  std::map<std::string, std::unique_ptr<Stream>> streams;
  {
    std::lock_guard lock(mu_);
    for (auto it = streams_.begin(); it != streams_.end();) {
      bool keep = false;
      if (keep_unchanged_of) {
        for (const auto& s : keep_unchanged_of->sources)
          if (s.name == it->first && s.stream && s.stanza == it->second->stanza &&
              s.pg_conn == it->second->pg_conn && s.repository == it->second->repository)
            keep = true;
      }
      if (keep) {
        ++it;
        continue;
      }
      if (it->second->child) it->second->child->terminate();
      streams.insert(std::move(*it));
      it = streams_.erase(it);
    }
  }
  cv_.notify_all();
  // SIGTERM ends a stream cleanly (what it received is flushed); one that does not end within a
  // minute is killed.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  for (auto& [n, s] : streams) {
    while (s->child && s->running && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (s->child && s->running) s->child->kill();
    if (s->thread.joinable()) s->thread.join();
  }
}

void Daemon::stream_loop(Stream* s) {
  double backoff = 1;
  for (;;) {
    std::string log_path;
    ChildOptions o;
    {
      std::unique_lock lock(mu_);
      if (stopping_ || !streams_.count(s->source) || streams_[s->source].get() != s) return;
      o.program = opt_.self_exe;
      o.argv = {"strongroom"};
      for (auto& a : stream_arguments(s->source, opt_.config_file)) o.argv.push_back(a);
      o.log_path =
          (std::filesystem::path(state_dir_) / "logs" / ("stream-" + s->source + ".log")).string();
      std::error_code ec;  // the stream's log: one previous generation kept, 16 MiB each
      if (std::filesystem::file_size(o.log_path, ec) > (16u << 20) && !ec)
        std::filesystem::rename(o.log_path, o.log_path + ".1", ec);
      try {
        s->child = Child::start(o);
        s->running = true;
        s->since_ns = now_ns();
      } catch (const std::exception& e) {
        log_warn("stream " + s->source + ": " + e.what());
      }
    }
    double started = monotonic_seconds();
    if (s->child) {
      log_info("stream " + s->source + " started");
      auto exit = s->child->wait();
      std::lock_guard lock(mu_);
      s->running = false;
      s->since_ns = now_ns();
      auto it = streams_.find(s->source);
      if (stopping_ || it == streams_.end() || it->second.get() != s) return;  // stopped on purpose
      log_warn("stream " + s->source + " stopped (" +
               (exit && exit->signal
                    ? "signal " + std::to_string(exit->signal)
                    : "exit status " + std::to_string(exit ? exit->exit_code : -1)) +
               "); restarting");
      ++s->restarts;
    }
    if (monotonic_seconds() - started > 300) backoff = 1;  // it ran a while: start over
    std::unique_lock lock(mu_);
    auto gone = [&] {
      auto it = streams_.find(s->source);
      return stopping_ || it == streams_.end() || it->second.get() != s;
    };
    cv_.wait_for(lock, std::chrono::milliseconds(static_cast<int64_t>(backoff * 1000)), gone);
    if (gone()) return;
    backoff = std::min(backoff * 2, 300.0);
    s->child.reset();
  }
}

// --- Catalog snapshot and alerts -------------------------------------------------------------

void Daemon::refresher() {
  for (;;) {
    {
      std::unique_lock lock(snap_mu_);
      auto cfg = config();
      refresh_cv_.wait_for(lock, std::chrono::seconds(cfg->server.refresh_every), [&] {
        std::lock_guard l2(mu_);
        return refresh_requested_ || stopping_;
      });
      refresh_requested_ = false;
    }
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    refresh_now();
  }
}

void Daemon::refresh_now() {
  std::lock_guard one(refresh_run_mu_);
  auto cfg = config();
  int64_t now = now_ns();
  std::shared_ptr<const Snapshot> snap;
  try {
    snap = build_snapshot(cfg, opt_.open_repository, now,
                          OpContext{&refresh_cancel_, nullptr, nullptr});
  } catch (const std::exception& e) {
    log_warn(std::string("catalog refresh failed: ") + e.what());
    return;
  }
  for (const auto& e : snap->errors) log_warn(e);
  {
    std::lock_guard lock(snap_mu_);
    snapshot_ = snap;
  }
  // Job history: 90 days (at least the newest 1000 jobs), logs with it.
  try {
    const std::string logs = (std::filesystem::path(state_dir_) / "logs").string() + "/";
    db_->forget_alerts(now - 90 * 86400 * kNs);
    for (const auto& log : db_->forget_jobs(now - 90 * 86400 * kNs, 1000))
      if (log.rfind(logs, 0) == 0 && log.find("/..") == std::string::npos)
        std::filesystem::remove(log);
  } catch (const std::exception& e) {
    log_warn(std::string("forgetting old jobs: ") + e.what());
  }
  // Building a snapshot reads every manifest: the memory it freed goes back to the system, so the
  // daemon's resident size is its steady state, not the last build's peak.
  ::malloc_trim(0);
  AlertInputs in;
  in.snapshot = snap.get();
  in.config = cfg.get();
  try {
    in.last_jobs = db_->last_finished_jobs();
  } catch (const std::exception& e) {
    log_warn(std::string("state database: ") + e.what());
    return;
  }
  in.now_ns = now;
  in.daemon_started_ns = started_ns_;
  {
    std::lock_guard lock(mu_);
    for (const auto& [n, s] : streams_)
      in.streams[n] =
          StreamState{s->running, s->running ? 0 : (s->since_ns ? s->since_ns : started_ns_)};
  }
  try {
    alerts_->reconcile(evaluate_rules(in), *cfg, now);
  } catch (const std::exception& e) {
    log_warn(std::string("alerts: ") + e.what());
  }
  ++generation_;
}

std::string Daemon::rendered(Rendered& cache, const std::function<std::string()>& make) {
  std::lock_guard lock(render_mu_);  // one computation at a time; the others wait and reuse it
  const double t = monotonic_seconds();
  const uint64_t g = generation_.load();
  if (cache.generation != g || t - cache.at >= 1.0) {
    cache.body = make();
    cache.generation = g;
    cache.at = t;
  }
  return cache.body;
}

std::string Daemon::status_body() {
  return rendered(status_cache_, [this] { return status_json().dump(); });
}

std::string Daemon::metrics_body() {
  return rendered(metrics_cache_, [this] { return metrics_text(); });
}

std::shared_ptr<const Snapshot> Daemon::snapshot() const {
  std::lock_guard lock(snap_mu_);
  return snapshot_;
}

bool Daemon::ready() const { return snapshot() != nullptr; }

}  // namespace sr::daemon

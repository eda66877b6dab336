#include "base/worker_pool.h"

namespace sr {

WorkerPool::WorkerPool(size_t threads, size_t queue_limit) : limit_(queue_limit ? queue_limit : 1) {
  if (threads == 0) threads = 1;
  for (size_t i = 0; i < threads; ++i)
    threads_.emplace_back([this](std::stop_token st) { run(st); });
}

WorkerPool::~WorkerPool() {
  {
    std::unique_lock lock(mu_);
    cv_idle_.wait(lock, [&] { return queue_.empty() && active_ == 0; });
  }
  for (auto& t : threads_) t.request_stop();
  cv_task_.notify_all();
  threads_.clear();
}

size_t WorkerPool::default_threads() {
  unsigned n = std::thread::hardware_concurrency();
  return n ? n : 2;
}

void WorkerPool::submit(std::function<void()> task) {
  std::unique_lock lock(mu_);
  cv_space_.wait(lock, [&] { return queue_.size() < limit_ || error_; });
  if (error_) return;
  queue_.push_back(std::move(task));
  cv_task_.notify_one();
}

void WorkerPool::wait() {
  std::unique_lock lock(mu_);
  cv_idle_.wait(lock, [&] { return queue_.empty() && active_ == 0; });
  if (error_) {
    auto e = error_;
    error_ = nullptr;
    std::rethrow_exception(e);
  }
}

bool WorkerPool::failed() const {
  std::lock_guard lock(mu_);
  return error_ != nullptr;
}

void WorkerPool::run(std::stop_token stop) {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mu_);
      cv_task_.wait(lock, stop, [&] { return !queue_.empty(); });
      if (queue_.empty()) return;  // stop requested
      task = std::move(queue_.front());
      queue_.pop_front();
      ++active_;
      cv_space_.notify_one();
    }
    try {
      task();
    } catch (...) {
      std::lock_guard lock(mu_);
      if (!error_) error_ = std::current_exception();
      queue_.clear();
      cv_space_.notify_all();
    }
    std::lock_guard lock(mu_);
    --active_;
    if (queue_.empty() && active_ == 0) cv_idle_.notify_all();
  }
}

}  // namespace sr

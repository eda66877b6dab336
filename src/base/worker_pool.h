// base/worker_pool.h: a fixed set of threads fed through a bounded queue.
//
// submit() blocks while the queue is full, which is how every pipeline stage keeps its memory
// bounded: a producer can never run more than `queue_limit` tasks ahead of the workers. The first
// exception a task throws is kept; later submits are dropped, and wait() rethrows it in the
// owner's thread, so no exception is lost and none crosses a thread boundary unnoticed.
// Thread safety: submit() and wait() may be called from any thread, including from tasks.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sr {

class WorkerPool {
 public:
  WorkerPool(size_t threads, size_t queue_limit);
  ~WorkerPool();  // waits for queued tasks; errors not collected by wait() are dropped
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  void submit(std::function<void()> task);
  // Waits until every submitted task has finished; rethrows the first task error.
  void wait();
  bool failed() const;

  static size_t default_threads();

 private:
  void run(std::stop_token stop);
  mutable std::mutex mu_;
  std::condition_variable_any cv_task_, cv_space_, cv_idle_;
  std::deque<std::function<void()>> queue_;
  size_t limit_;
  size_t active_ = 0;
  std::exception_ptr error_;
  std::vector<std::jthread> threads_;
};

}  // namespace sr

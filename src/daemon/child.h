// daemon/child.h: a child process of the daemon (a job: strongroom itself with the job's
// command line; a notification command). It runs in its own process group, so that cancelling
// it reaches whatever it started; standard input is the given text (or /dev/null), standard
// output is captured (bounded), standard error goes to a log file (or is captured too). The
// signal mask and dispositions are reset in the child (the daemon blocks its signals).
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace sr::daemon {

struct ChildOptions {
  std::vector<std::string> argv;  // argv[0] is the program (a path) unless `program` is given
  std::string program;            // the file to run, when not argv[0]
  std::optional<std::vector<std::string>> env;  // "NAME=value"; nullopt: the daemon's own
  std::string stdin_text;                       // written to its standard input, then closed
  std::string log_path;                         // standard error appended here ("" = captured)
  size_t capture_limit = 4 << 20;               // bytes of stdout (and stderr) kept
};

struct ChildExit {
  int exit_code = -1;  // -1 when killed by a signal
  int signal = 0;
  std::string out, err;  // captured (err only when log_path was "")
  bool truncated = false;
};

class Child {
 public:
  // Throws Error{kIo} when the process cannot be started.
  static std::unique_ptr<Child> start(const ChildOptions& options);
  ~Child();  // kills and reaps a child still running
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  pid_t pid() const { return pid_; }
  // SIGTERM (then, with kill, SIGKILL) to the child's process group.
  void terminate();
  void kill();
  // Waits for the child; with a timeout, nullopt when it is still running then.
  std::optional<ChildExit> wait(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

 private:
  Child() = default;
  bool readers_done() const;
  pid_t pid_ = -1;
  std::atomic<bool> reaped_{false};  // terminate()/kill() may run on another thread than wait()
  std::atomic<bool> stop_reading_{false}, out_done_{false}, err_done_{false};
  ChildExit exit_;
  std::thread out_reader_, err_reader_, in_writer_, stop_timer_;
};

}  // namespace sr::daemon

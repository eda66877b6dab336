// source/command_source.h: a command whose standard output is backed up.
//
// The command runs as `/bin/sh -c CMD` in its own process group, with stdin from /dev/null and
// an environment reduced to an allow-list (source/child_env.h: no storage credentials, no
// repository passwords). Its stdout is read by the caller
// through stdout_fd(); its stderr is drained by a thread (so the command can never block on a
// full pipe) and its last 64 KiB are kept for the error message. The destructor kills the whole
// process group, so an aborted backup leaves no command behind. Not thread-safe.
#pragma once

#include <mutex>
#include <string>
#include <thread>

#include "base/fs.h"

namespace sr::source {

class CommandProcess {
 public:
  explicit CommandProcess(const std::string& command);
  ~CommandProcess();  // kills and reaps the command if wait() was not called
  CommandProcess(const CommandProcess&) = delete;
  CommandProcess& operator=(const CommandProcess&) = delete;

  int stdout_fd() const { return out_.get(); }
  // Kills the command's whole process group (thread-safe; e.g. on cancellation, so that a
  // reader blocked on stdout sees end of file). wait() then reports 128+SIGKILL.
  void kill();
  // Waits for exit; returns the exit status (128+signal when killed by a signal).
  int wait();
  std::string stderr_tail();

 private:
  void stop_reader();
  pid_t pid_ = -1;
  Fd out_;
  std::mutex mu_;
  std::string err_;
  std::jthread err_reader_;  // last: it uses the members above, so it must stop first
};

}  // namespace sr::source

#include "source/command_source.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

extern char** environ;

namespace sr::source {

namespace {
constexpr size_t kKeepStderr = 64 * 1024;
}

CommandProcess::CommandProcess(const std::string& command) {
  int out[2], err[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw_errno("cannot create a pipe");
  if (::pipe2(err, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw_errno("cannot create a pipe");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  int rc = ::posix_spawn(&pid_, "/bin/sh", &fa, nullptr, const_cast<char* const*>(argv), environ);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    ::close(out[0]);
    ::close(err[0]);
    throw_errno("cannot start /bin/sh", rc);
  }
  out_ = Fd(out[0]);
  err_reader_ = std::jthread([this, fd = err[0]] {
    char buf[8192];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof buf);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      std::lock_guard lock(mu_);
      err_.append(buf, static_cast<size_t>(n));
      if (err_.size() > 2 * kKeepStderr) err_.erase(0, err_.size() - kKeepStderr);
    }
    ::close(fd);
  });
}

CommandProcess::~CommandProcess() {
  if (pid_ > 0) {
    ::kill(pid_, SIGKILL);
    int status;
    ::waitpid(pid_, &status, 0);
  }
  out_.reset();
}

int CommandProcess::wait() {
  out_.reset();
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("cannot wait for the command");
  }
  pid_ = -1;
  if (err_reader_.joinable()) err_reader_.join();
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 255;
}

std::string CommandProcess::stderr_tail() {
  std::lock_guard lock(mu_);
  if (err_.size() > kKeepStderr) return err_.substr(err_.size() - kKeepStderr);
  return err_;
}

}  // namespace sr::source

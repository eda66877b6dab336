#include "source/command_source.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>

#include "source/child_env.h"

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
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  posix_spawnattr_setpgroup(&attr, 0);
  ChildEnvp envp(child_environment(ChildKind::kCommand));  // an allow-list (child_env.h)
  const char* argv[] = {"/bin/sh", "-c", command.c_str(), nullptr};
  int rc = ::posix_spawn(&pid_, "/bin/sh", &fa, &attr, const_cast<char* const*>(argv), envp.get());
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&fa);
  ::close(out[1]);
  ::close(err[1]);
  if (rc != 0) {
    pid_ = -1;
    ::close(out[0]);
    ::close(err[0]);
    throw_errno("cannot start /bin/sh", rc);
  }
  out_ = Fd(out[0]);
  err_reader_ = std::jthread([this, fd = err[0]](std::stop_token stop) {
    char buf[8192];
    for (;;) {
      struct pollfd p = {fd, POLLIN, 0};
      int r = ::poll(&p, 1, 100);
      if (r < 0 && errno == EINTR) continue;
      if (r == 0) {
        if (stop.stop_requested()) break;  // the command is gone; a straggler keeps stderr open
        continue;
      }
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

void CommandProcess::stop_reader() {
  if (err_reader_.joinable()) {
    err_reader_.request_stop();
    err_reader_.join();
  }
}

void CommandProcess::kill() {
  if (pid_ > 0) ::kill(-pid_, SIGKILL);
}

CommandProcess::~CommandProcess() {
  if (pid_ > 0) {
    ::kill(-pid_, SIGKILL);  // the whole process group
    int status;
    ::waitpid(pid_, &status, 0);
  }
  out_.reset();
  stop_reader();
}

int CommandProcess::wait() {
  out_.reset();
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw_errno("cannot wait for the command");
  }
  pid_ = -1;
  stop_reader();
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

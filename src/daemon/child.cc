#include "daemon/child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/error.h"

extern char** environ;

namespace sr::daemon {
namespace {

// Reads `fd` to its end, or until `stop` is set (checked every 200 ms): a process the child left
// running in the background may hold the pipe open after the child itself exited.
void read_all(int fd, std::string& into, size_t limit, bool& truncated,
              const std::atomic<bool>& stop) {
  char buf[16384];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = ::poll(&p, 1, 200);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      if (stop) break;
      continue;
    }
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    size_t room = limit > into.size() ? limit - into.size() : 0;
    if (static_cast<size_t>(n) > room) truncated = true;
    into.append(buf, std::min(room, static_cast<size_t>(n)));
  }
  ::close(fd);
}

}  // namespace

std::unique_ptr<Child> Child::start(const ChildOptions& o) {
  if (o.argv.empty()) throw Error(Errc::kInternal, "child: no program");
  int out[2], err[2] = {-1, -1}, in[2];
  if (::pipe2(out, O_CLOEXEC) != 0) throw Error(Errc::kIo, "pipe: " + std::string(strerror(errno)));
  if (::pipe2(in, O_CLOEXEC) != 0) {
    ::close(out[0]);
    ::close(out[1]);
    throw Error(Errc::kIo, "pipe: " + std::string(strerror(errno)));
  }
  int log_fd = -1;
  if (!o.log_path.empty()) {
    log_fd = ::open(o.log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) {
      for (int fd : {out[0], out[1], in[0], in[1]}) ::close(fd);
      throw Error(Errc::kIo, "cannot open " + o.log_path + ": " + strerror(errno));
    }
  } else if (::pipe2(err, O_CLOEXEC) != 0) {
    for (int fd : {out[0], out[1], in[0], in[1]}) ::close(fd);
    throw Error(Errc::kIo, "pipe: " + std::string(strerror(errno)));
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, log_fd >= 0 ? log_fd : err[1], 2);
  // Nothing else of the daemon's: cpp-httplib accepts connections without O_CLOEXEC, and a job
  // or a notification script must not hold API clients' sockets.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int s : {SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGCHLD, SIGQUIT}) sigaddset(&defaults, s);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawnattr_setpgroup(&attr, 0);
  std::vector<char*> argv;
  for (const auto& a : o.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<char*> envp;
  if (o.env) {
    for (const auto& e : *o.env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
  }
  std::unique_ptr<Child> c(new Child());
  const char* program = o.program.empty() ? argv[0] : o.program.c_str();
  int rc = ::posix_spawn(&c->pid_, program, &fa, &attr, argv.data(), o.env ? envp.data() : environ);
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  ::close(out[1]);
  ::close(in[0]);
  if (log_fd >= 0) ::close(log_fd);
  if (err[1] >= 0) ::close(err[1]);
  if (rc != 0) {
    for (int fd : {out[0], in[1], err[0]})
      if (fd >= 0) ::close(fd);
    c->reaped_ = true;
    throw Error(Errc::kIo, "cannot start " + o.argv[0] + ": " + strerror(rc));
  }
  Child* self = c.get();
  size_t limit = o.capture_limit;
  c->err_done_ = err[0] < 0;
  c->out_reader_ = std::thread([self, fd = out[0], limit] {
    read_all(fd, self->exit_.out, limit, self->exit_.truncated, self->stop_reading_);
    self->out_done_ = true;
  });
  if (err[0] >= 0)
    c->err_reader_ = std::thread([self, fd = err[0], limit] {
      bool t = false;
      read_all(fd, self->exit_.err, limit, t, self->stop_reading_);
      self->err_done_ = true;
    });
  c->in_writer_ = std::thread([fd = in[1], text = o.stdin_text] {
    ::signal(SIGPIPE, SIG_IGN);  // a child that does not read its input is not an error
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = ::write(fd, text.data() + done, text.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      done += static_cast<size_t>(n);
    }
    ::close(fd);
  });
  return c;
}

Child::~Child() {
  if (!reaped_ && pid_ > 0) {
    kill();
    wait();
  }
  stop_reading_ = true;
  for (auto* t : {&out_reader_, &err_reader_, &in_writer_, &stop_timer_})
    if (t->joinable()) t->join();
}

bool Child::readers_done() const { return out_done_ && err_done_; }

void Child::terminate() {
  if (!reaped_ && pid_ > 0) ::kill(-pid_, SIGTERM);
}

void Child::kill() {
  if (!reaped_ && pid_ > 0) ::kill(-pid_, SIGKILL);
}

std::optional<ChildExit> Child::wait(std::optional<std::chrono::milliseconds> timeout) {
  if (!reaped_) {
    auto deadline = std::chrono::steady_clock::now() + timeout.value_or(std::chrono::hours(0));
    int status = 0;
    for (;;) {
      pid_t r = ::waitpid(pid_, &status, timeout ? WNOHANG : 0);
      if (r == pid_) break;
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) throw Error(Errc::kIo, "waitpid: " + std::string(strerror(errno)));
      if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    reaped_ = true;
    if (WIFEXITED(status)) exit_.exit_code = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) exit_.signal = WTERMSIG(status);
    // What the child wrote is read to the end, unless something it left in the background keeps
    // the pipes open: then 2 s, and no more.
    stop_timer_ = std::thread([this] {
      for (int i = 0; i < 100 && !readers_done(); ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      stop_reading_ = true;
    });
  }
  for (auto* t : {&out_reader_, &err_reader_, &in_writer_, &stop_timer_})
    if (t->joinable()) t->join();
  return exit_;
}

}  // namespace sr::daemon

#include "app/detach.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <exception>

#include "base/log.h"
#include "base/time_util.h"

namespace sr::app {

void run_detached(const std::string& name, const std::string& log_path,
                  const std::function<void()>& work) {
  std::fflush(stdout);
  std::fflush(stderr);
  pid_t pid = ::fork();
  if (pid < 0) return;
  if (pid > 0) {
    int status;
    ::waitpid(pid, &status, 0);
    return;
  }
  ::setsid();
  if (::fork() != 0) ::_exit(0);
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  int out = log_path.empty()
                ? null
                : ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (null >= 0) ::dup2(null, 0);
  if (out >= 0) {
    ::dup2(out, 1);
    ::dup2(out, 2);
  }
  try {
    work();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s strongroom %s: %s\n", format_rfc3339(now_ns()).c_str(), name.c_str(),
                 log::redact(e.what()).c_str());
  }
  std::fflush(stdout);
  std::fflush(stderr);
  ::_exit(0);
}

}  // namespace sr::app

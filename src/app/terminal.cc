#include "app/terminal.h"

#include <fcntl.h>
#include <termios.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "base/error.h"
#include "base/fs.h"
#include "base/time_util.h"

namespace sr::app {

namespace {
std::string prompt_tty(const std::string& prompt) {
  Fd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC));
  if (!tty) return {};
  write_all(tty.get(), as_bytes(prompt), "terminal");
  struct termios old, noecho;
  bool restore = ::tcgetattr(tty.get(), &old) == 0;
  if (restore) {
    noecho = old;
    noecho.c_lflag &= ~static_cast<tcflag_t>(ECHO);
    ::tcsetattr(tty.get(), TCSAFLUSH, &noecho);
  }
  std::string line;
  char ch;
  while (::read(tty.get(), &ch, 1) == 1 && ch != '\n') line.push_back(ch);
  if (restore) ::tcsetattr(tty.get(), TCSAFLUSH, &old);
  write_all(tty.get(), as_bytes("\n"), "terminal");
  return line;
}
}  // namespace

std::string read_secret_file(const std::string& path, const std::string& what) {
  Bytes raw;
  try {
    raw = read_file(path);
  } catch (const Error&) {
    throw Error(Errc::kUsage, "cannot read " + what);
  }
  std::string secret(as_chars(raw));
  if (auto nl = secret.find('\n'); nl != std::string::npos) secret.resize(nl);
  if (!secret.empty() && secret.back() == '\r') secret.pop_back();
  if (secret.empty()) throw Error(Errc::kUsage, what + " is empty");
  return secret;
}

std::string read_password(const std::string& prefix, const std::string& prompt, bool confirm,
                          const std::string& file) {
  if (!file.empty()) return read_secret_file(file, "the password file " + file);
  std::string file_var = prefix + "_PASSWORD_FILE", var = prefix + "_PASSWORD";
  if (const char* f = std::getenv(file_var.c_str()); f && *f)
    return read_secret_file(f, "the password file named by " + file_var);
  if (const char* p = std::getenv(var.c_str()); p && *p) return p;
  if (!::isatty(0)) {
    Fd tty(::open("/dev/tty", O_RDWR | O_CLOEXEC));
    if (!tty)
      throw Error(Errc::kUsage, "no password: set " + file_var + " (or " + var +
                                    "), or run on a terminal to be asked");
  }
  std::string pw = prompt_tty(prompt);
  if (pw.empty()) throw Error(Errc::kUsage, "no password given");
  if (confirm && prompt_tty("Repeat the password: ") != pw)
    throw Error(Errc::kUsage, "the passwords do not match");
  return pw;
}

std::string human_bytes(uint64_t n) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1024 && u < 5) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

std::string human_duration(double s) {
  char buf[32];
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%.1fs", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%dm%02ds", int(s) / 60, int(s) % 60);
  else
    std::snprintf(buf, sizeof buf, "%dh%02dm", int(s) / 3600, int(s) / 60 % 60);
  return buf;
}

bool stderr_is_terminal() { return ::isatty(2); }

ProgressLine::ProgressLine(std::string verb, const Counters& counters, bool enabled)
    : verb_(std::move(verb)),
      c_(counters),
      start_(monotonic_seconds()),
      enabled_(enabled && stderr_is_terminal()) {
  if (!enabled_) return;
  thread_ = std::jthread([this](std::stop_token st) {
    while (sleep_for(st, std::chrono::milliseconds(250))) draw(false);
  });
}

ProgressLine::~ProgressLine() { stop(); }

void ProgressLine::stop() {
  if (!enabled_) return;
  thread_.request_stop();
  if (thread_.joinable()) thread_.join();
  std::fputs("\r\033[K", stderr);
  std::fflush(stderr);
  enabled_ = false;
}

void ProgressLine::draw(bool) {
  double elapsed = monotonic_seconds() - start_;
  uint64_t done = c_.bytes.load();
  double rate = elapsed > 0 ? static_cast<double>(done) / elapsed : 0;
  std::string line = "\r\033[K" + verb_ + " [" + human_duration(elapsed) + "] " + human_bytes(done);
  if (c_.total_known && c_.total_bytes > 0) {
    uint64_t total = c_.total_bytes.load();
    line += " / " + human_bytes(total);
    char pct[16];
    std::snprintf(pct, sizeof pct, " %3.0f%%",
                  100.0 * static_cast<double>(std::min(done, total)) / static_cast<double>(total));
    line += pct;
    if (rate > 0 && total > done)
      line += "  ETA " + human_duration(static_cast<double>(total - done) / rate);
  }
  line += "  " + human_bytes(static_cast<uint64_t>(rate)) + "/s";
  if (c_.files > 0) line += "  " + std::to_string(c_.files.load()) + " files";
  std::fputs(line.c_str(), stderr);
  std::fflush(stderr);
}

}  // namespace sr::app

// base/log.h: the logger every layer writes to.
//
// A Logger takes a level, a component ("backup", "storage", "stream"…) and a message, and writes
// one line: plain text for people (`2026-11-30T20:15:02Z warn  backup: cannot read /etc/x`) or
// JSON lines for services (`{"time":…,"level":"warn","component":"backup","msg":…}`). Messages are
// passed through redact() before they are written, so a secret that slipped into a message
// (an Authorization header, a SAS signature, a password= in a connection string) never reaches a
// log. Thread-safe: one line is written with one call, under a mutex. Libraries never create a
// logger; they get one in their OpContext (base/context.h), and a null logger when the caller
// wants none.
#pragma once

#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace sr::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

std::string_view level_name(Level level);
// "debug" | "info" | "warn" | "error"; throws kUsage otherwise.
Level parse_level(std::string_view name);

class Logger {
 public:
  explicit Logger(Level min_level = Level::kInfo) : min_level_(min_level) {}
  virtual ~Logger() = default;
  bool enabled(Level level) const { return level >= min_level_; }
  void log(Level level, std::string_view component, std::string_view message);
  void debug(std::string_view component, std::string_view message) {
    log(Level::kDebug, component, message);
  }
  void info(std::string_view component, std::string_view message) {
    log(Level::kInfo, component, message);
  }
  void warn(std::string_view component, std::string_view message) {
    log(Level::kWarn, component, message);
  }
  void error(std::string_view component, std::string_view message) {
    log(Level::kError, component, message);
  }

 protected:
  // Called with the redacted message, for enabled levels only.
  virtual void write(Level level, std::string_view component, std::string_view message) = 0;

 private:
  Level min_level_;
};

enum class Format { kText, kJsonLines };

// Writes to `out` (not owned; stderr by default). `terminal`: text lines start with "\r\033[K"
// so that they do not mix with a progress line.
std::unique_ptr<Logger> make_stream_logger(Format format, Level min_level, FILE* out = stderr,
                                           bool terminal = false);
// Calls `sink` with each formatted line (without the newline): for tests, job logs, the daemon.
std::unique_ptr<Logger> make_callback_logger(Format format, Level min_level,
                                             std::function<void(std::string_view line)> sink);
// Discards everything.
Logger& null_logger();

// Replaces the values of known secret carriers in `text` with "***": Authorization headers,
// X-Amz-Signature/X-Amz-Credential/X-Amz-Security-Token, SAS parameters (sig=, se=… keep their
// names), AccountKey= and SharedAccessSignature= in connection strings, password= in libpq
// connection strings.
std::string redact(std::string_view text);

}  // namespace sr::log

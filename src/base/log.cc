#include "base/log.h"

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>
#include <optional>
#include <utility>

#include "base/error.h"
#include "base/time_util.h"

namespace sr::log {
namespace {

std::string format_line(Format format, Level level, std::string_view component,
                        std::string_view message) {
  std::string time = format_rfc3339(now_ns());
  if (format == Format::kJsonLines) {
    nlohmann::json j = {
        {"time", time}, {"level", level_name(level)}, {"component", component}, {"msg", message}};
    return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  }
  std::string line = time;
  line += ' ';
  std::string_view name = level_name(level);
  line += name;
  line.append(6 - name.size(), ' ');
  line += component;
  line += ": ";
  line += message;
  return line;
}

class StreamLogger final : public Logger {
 public:
  StreamLogger(Format format, Level min, FILE* out, bool terminal)
      : Logger(min), format_(format), out_(out), terminal_(terminal) {}

 protected:
  void write(Level level, std::string_view component, std::string_view message) override {
    std::string line = format_line(format_, level, component, message);
    std::lock_guard lock(mu_);
    std::fprintf(out_, "%s%s\n", terminal_ ? "\r\033[K" : "", line.c_str());
    std::fflush(out_);
  }

 private:
  Format format_;
  FILE* out_;
  bool terminal_;
  std::mutex mu_;
};

class CallbackLogger final : public Logger {
 public:
  CallbackLogger(Format format, Level min, std::function<void(std::string_view)> sink)
      : Logger(min), format_(format), sink_(std::move(sink)) {}

 protected:
  void write(Level level, std::string_view component, std::string_view message) override {
    std::string line = format_line(format_, level, component, message);
    std::lock_guard lock(mu_);
    sink_(line);
  }

 private:
  Format format_;
  std::function<void(std::string_view)> sink_;
  std::mutex mu_;
};

class NullLogger final : public Logger {
 public:
  NullLogger() : Logger(Level::kError) {}

 protected:
  void write(Level, std::string_view, std::string_view) override {}
};

bool iequals_at(std::string_view text, size_t pos, std::string_view word) {
  if (pos + word.size() > text.size()) return false;
  for (size_t i = 0; i < word.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(text[pos + i])) !=
        std::tolower(static_cast<unsigned char>(word[i])))
      return false;
  return true;
}

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// Where the secret value starting at `pos` ends: the matching quote of a quoted value (backslash
// escapes), the end of the line for header values, else the next delimiter.
size_t value_end(std::string_view text, size_t pos, bool to_line_end) {
  if (!to_line_end && pos < text.size() && (text[pos] == '\'' || text[pos] == '"')) {
    const char quote = text[pos];
    size_t i = pos + 1;
    while (i < text.size() && text[i] != quote) i += text[i] == '\\' ? 2 : 1;
    return std::min(i + 1, text.size());
  }
  size_t i = pos;
  while (i < text.size()) {
    char c = text[i];
    if (c == '\n' || c == '\r') break;
    if (!to_line_end && (c == '&' || c == ';' || c == ' ' || c == '"' || c == '\'' || c == ','))
      break;
    ++i;
  }
  return i;
}

// A URI's password ("scheme://user:PASSWORD@host"): the range of PASSWORD, if `pos` starts "://".
std::optional<std::pair<size_t, size_t>> uri_password(std::string_view text, size_t pos) {
  if (text.compare(pos, 3, "://") != 0) return std::nullopt;
  size_t start = pos + 3, end = start;
  while (end < text.size() && text[end] != '/' && text[end] != '@' && text[end] != ' ' &&
         text[end] != '\n')
    ++end;
  if (end >= text.size() || text[end] != '@') return std::nullopt;
  size_t colon = text.find(':', start);
  if (colon == std::string_view::npos || colon >= end) return std::nullopt;
  return std::make_pair(colon + 1, end);
}

}  // namespace

std::string_view level_name(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
  }
  return "info";
}

Level parse_level(std::string_view name) {
  for (Level l : {Level::kDebug, Level::kInfo, Level::kWarn, Level::kError})
    if (name == level_name(l)) return l;
  throw Error(Errc::kUsage,
              "unknown log level '" + std::string(name) + "' (debug, info, warn or error)");
}

void Logger::log(Level level, std::string_view component, std::string_view message) {
  if (!enabled(level)) return;
  write(level, component, redact(message));
}

std::unique_ptr<Logger> make_stream_logger(Format format, Level min_level, FILE* out,
                                           bool terminal) {
  return std::make_unique<StreamLogger>(format, min_level, out, terminal);
}

std::unique_ptr<Logger> make_callback_logger(Format format, Level min_level,
                                             std::function<void(std::string_view)> sink) {
  return std::make_unique<CallbackLogger>(format, min_level, std::move(sink));
}

Logger& null_logger() {
  static NullLogger logger;
  return logger;
}

std::string redact(std::string_view text) {
  // Names after which a secret value follows. Headers (`line`) run to the end of the line;
  // parameters take "=" (with optional spaces around it, as libpq allows) and a plain or quoted
  // value.
  struct Marker {
    std::string_view word;
    bool line;
  };
  static constexpr Marker kMarkers[] = {
      {"authorization:", true},
      {"x-amz-security-token:", true},
      {"x-ms-copy-source-authorization:", true},
      {"x-amz-signature", false},
      {"x-amz-credential", false},
      {"x-amz-security-token", false},
      {"sig", false},
      {"accountkey", false},
      {"sharedaccesssignature", false},
      {"password", false},
  };
  std::string out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    if (auto pw = uri_password(text, i)) {
      out.append(text.substr(i, pw->first - i));
      out += "***";
      i = pw->second;
      continue;
    }
    bool matched = false;
    for (const auto& m : kMarkers) {
      // A name must start a word (so "mysig=" is not "sig=") and end one.
      if (i > 0 && is_word_char(text[i - 1])) continue;
      if (!iequals_at(text, i, m.word)) continue;
      size_t p = i + m.word.size();
      if (!m.line) {
        if (p < text.size() && is_word_char(text[p])) continue;
        while (p < text.size() && text[p] == ' ') ++p;
        if (p >= text.size() || text[p] != '=') continue;
        ++p;
      }
      while (p < text.size() && text[p] == ' ') ++p;
      out.append(text.substr(i, p - i));
      size_t end = value_end(text, p, m.line);
      if (end > p) out += "***";
      i = end;
      matched = true;
      break;
    }
    if (!matched) out += text[i++];
  }
  return out;
}

}  // namespace sr::log

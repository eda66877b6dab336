// app/terminal.h: what the CLI shows a person: passwords from the environment or a prompt,
// progress lines on a terminal, human-readable sizes.
#pragma once

#include <atomic>
#include <string>
#include <thread>

#include "base/context.h"

namespace sr::app {

// The repository password: the first line of `file` when given (--password-file), else of
// <prefix>_PASSWORD_FILE, else <prefix>_PASSWORD, else a prompt on the terminal (asked twice when
// `confirm`). `prefix` selects the variables ("STRONGROOM" or "STRONGROOM_NEW"). Throws kUsage
// when none is available.
std::string read_password(const std::string& prefix, const std::string& prompt, bool confirm,
                          const std::string& file = "");
// The first line of a file holding a secret (password or key file), without its line end.
// `what` names the file in errors (never the secret). Throws kUsage when unreadable or empty.
std::string read_secret_file(const std::string& path, const std::string& what);

std::string human_bytes(uint64_t n);
std::string human_duration(double seconds);

// Shows "verb  done / total  rate  ETA" on stderr, refreshed 4 times a second, while it lives,
// when stderr is a terminal (and quiet otherwise).
class ProgressLine {
 public:
  ProgressLine(std::string verb, const Counters& counters, bool enabled);
  ~ProgressLine();
  void stop();

 private:
  void draw(bool final);
  std::string verb_;
  const Counters& c_;
  double start_;
  std::jthread thread_;
  bool enabled_;
};

bool stderr_is_terminal();

}  // namespace sr::app

#include "source/child_env.h"

#include <array>

extern char** environ;

namespace sr::source {

namespace {

bool starts_with(std::string_view s, std::string_view prefix) { return s.rfind(prefix, 0) == 0; }

bool never_inherited(std::string_view name) {
  static constexpr std::array<std::string_view, 6> kDenied = {"AWS_",
                                                              "AZURE_",
                                                              "STRONGROOM_PASSWORD",
                                                              "STRONGROOM_NEW_PASSWORD",
                                                              "STRONGROOM_KEY_FILE",
                                                              "STRONGROOM_NEW_KEY"};
  for (auto p : kDenied)
    if (starts_with(name, p)) return true;
  return false;
}

}  // namespace

bool child_may_inherit(std::string_view name, ChildKind kind) {
  if (name.empty() || never_inherited(name)) return false;
  static constexpr std::array<std::string_view, 11> kExact = {
      "PATH", "HOME",     "USER", "LOGNAME", "SHELL", "TERM",
      "LANG", "LANGUAGE", "TZ",   "TMPDIR",  "LC_ALL"};
  for (auto e : kExact)
    if (name == e) return true;
  if (starts_with(name, "LC_") || starts_with(name, "STRONGROOM_")) return true;
  if (starts_with(name, "PG")) return !(kind == ChildKind::kServer && name == "PGPASSWORD");
  return false;
}

std::vector<std::string> child_environment(ChildKind kind, char** env) {
  std::vector<std::string> out;
  for (char** e = env ? env : environ; *e; ++e) {
    std::string_view v(*e);
    size_t eq = v.find('=');
    if (eq == std::string_view::npos) continue;
    if (child_may_inherit(v.substr(0, eq), kind)) out.emplace_back(v);
  }
  return out;
}

ChildEnvp::ChildEnvp(std::vector<std::string> entries) : entries_(std::move(entries)) {
  for (auto& e : entries_) ptrs_.push_back(e.data());
  ptrs_.push_back(nullptr);
}

}  // namespace sr::source

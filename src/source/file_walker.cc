#include "source/file_walker.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <set>

#include "base/error.h"
#include "base/path_order.h"

namespace sr::source {

namespace {
std::string normalise(const std::string& path) {
  std::string abs = path;
  if (abs.empty()) throw Error(Errc::kUsage, "empty path");
  if (abs.front() != '/') {
    char buf[4096];
    if (!::getcwd(buf, sizeof buf)) throw_errno("cannot get the current directory");
    abs = std::string(buf) + "/" + abs;
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= abs.size()) {
    size_t end = abs.find('/', start);
    if (end == std::string::npos) end = abs.size();
    std::string comp = abs.substr(start, end - start);
    if (comp == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!comp.empty() && comp != ".") {
      parts.push_back(comp);
    }
    start = end + 1;
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

bool is_under(const std::string& path, const std::string& dir) {
  if (dir == "/") return path != "/";
  return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 &&
         path[dir.size()] == '/';
}

std::string parent_of(const std::string& p) {
  auto pos = p.rfind('/');
  return pos == 0 ? "/" : p.substr(0, pos);
}

std::string rel_of(const std::string& abs, const std::string& root) {
  return root == "/" ? abs.substr(1) : abs.substr(root.size() + 1);
}

void walk_dir(const std::string& abs, const std::string& rel,
              const std::function<void(const WalkItem&)>& visit,
              const std::function<void(const std::string&, const std::string&)>& on_error,
              const FilterFn& filter) {
  DIR* d = ::opendir(abs.c_str());
  if (!d) {
    on_error(abs, std::strerror(errno));
    return;
  }
  std::vector<std::string> names;
  for (;;) {
    errno = 0;
    struct dirent* e = ::readdir(d);
    if (!e) {
      if (errno != 0) on_error(abs, std::string("listing incomplete: ") + std::strerror(errno));
      break;
    }
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    names.emplace_back(e->d_name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());  // byte order == path_less order among siblings
  for (const auto& name : names) {
    WalkItem item;
    item.abs = abs == "/" ? "/" + name : abs + "/" + name;
    item.rel = rel.empty() ? name : rel + "/" + name;
    if (::lstat(item.abs.c_str(), &item.st) != 0) {
      if (errno != ENOENT) on_error(item.abs, std::strerror(errno));
      continue;  // vanished since the listing: not an error
    }
    Filter f = filter ? filter(item) : Filter::kInclude;  // may follow a link (item.st)
    if (f == Filter::kExclude) continue;
    visit(item);
    if (S_ISDIR(item.st.st_mode) && f == Filter::kInclude)
      walk_dir(item.abs, item.rel, visit, on_error, filter);
  }
}
}  // namespace

WalkPlan plan_walk(const std::vector<std::string>& paths) {
  if (paths.empty()) throw Error(Errc::kUsage, "no path to back up");
  std::vector<std::string> abs;
  for (const auto& p : paths) {
    std::string n = normalise(p);
    struct stat st;
    if (::lstat(n.c_str(), &st) != 0) {
      if (errno == ENOENT) throw Error(Errc::kNotFound, "path " + p + " does not exist");
      throw_errno("cannot stat " + p);
    }
    abs.push_back(n);
  }
  std::sort(abs.begin(), abs.end());
  abs.erase(std::unique(abs.begin(), abs.end()), abs.end());
  WalkPlan plan;
  for (const auto& p : abs)
    if (std::none_of(abs.begin(), abs.end(), [&](const std::string& q) { return is_under(p, q); }))
      plan.abs_paths.push_back(p);
  struct stat st;
  if (plan.abs_paths.size() == 1 && ::stat(plan.abs_paths[0].c_str(), &st) == 0 &&
      S_ISDIR(st.st_mode)) {
    plan.root = plan.abs_paths[0];
    return plan;
  }
  std::string root = parent_of(plan.abs_paths[0]);
  for (const auto& p : plan.abs_paths)
    while (!is_under(p, root)) root = parent_of(root);
  plan.root = root;
  std::sort(plan.abs_paths.begin(), plan.abs_paths.end(),
            [&](const auto& a, const auto& b) { return path_less(a, b); });
  return plan;
}

void walk(const WalkPlan& plan, const std::function<void(const WalkItem&)>& visit,
          const std::function<void(const std::string&, const std::string&)>& on_error,
          const FilterFn& filter) {
  if (plan.abs_paths.size() == 1 && plan.root == plan.abs_paths[0]) {
    walk_dir(plan.root, "", visit, on_error, filter);
    return;
  }
  std::set<std::string> emitted;  // intermediate directories already visited
  for (const auto& path : plan.abs_paths) {
    // Visit the directories between the root and this path first.
    std::vector<std::string> chain;
    for (std::string p = parent_of(path); p != plan.root && is_under(p, plan.root);
         p = parent_of(p))
      chain.push_back(p);
    std::reverse(chain.begin(), chain.end());
    for (const auto& dir : chain) {
      if (!emitted.insert(dir).second) continue;
      WalkItem item{rel_of(dir, plan.root), dir, {}};
      if (::lstat(dir.c_str(), &item.st) == 0) visit(item);
    }
    WalkItem item{rel_of(path, plan.root), path, {}};
    if (::lstat(path.c_str(), &item.st) != 0) {
      on_error(path, std::strerror(errno));
      continue;
    }
    visit(item);
    if (S_ISDIR(item.st.st_mode)) walk_dir(path, item.rel, visit, on_error, filter);
  }
}

}  // namespace sr::source

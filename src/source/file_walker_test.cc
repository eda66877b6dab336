#include "source/file_walker.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/path_order.h"
#include "testing/temp_dir.h"

namespace sr::source {
namespace {

std::vector<std::string> walk_all(const WalkPlan& plan) {
  std::vector<std::string> out;
  walk(
      plan, [&](const WalkItem& i) { out.push_back(i.rel); },
      [](const std::string&, const std::string&) {});
  return out;
}

// Regression: a common root of "/" looped forever (review finding 2).
TEST(FileWalker, PathsWhoseCommonRootIsSlash) {
  WalkPlan plan = plan_walk({"/etc/hostname", "/bin"});
  EXPECT_EQ(plan.root, "/");
  auto v = walk_all(plan);
  EXPECT_EQ(v, (std::vector<std::string>{"bin", "etc", "etc/hostname"}));
}

TEST(FileWalker, OrderMatchesPathLessAndNestedPathsCollapse) {
  sr::testing::TempDir t;
  for (const char* d : {"a", "a/b", "a-c", "a.d", "z"}) mkdirs(t / d);
  for (const char* f : {"a/b/f", "a-c/g", "a.d/h", "a0"}) write_file_atomic(t / f, as_bytes("x"));
  WalkPlan plan = plan_walk({t.path(), t / "a"});
  EXPECT_EQ(plan.root, t.path());
  auto v = walk_all(plan);
  for (size_t i = 1; i < v.size(); ++i) EXPECT_TRUE(path_less(v[i - 1], v[i])) << v[i];
  EXPECT_EQ(v.size(), 9u);
}

TEST(FileWalker, SeveralPathsKeepTheirIntermediateDirectories) {
  sr::testing::TempDir t;
  mkdirs(t / "x/y/z");
  mkdirs(t / "x/w");
  WalkPlan plan = plan_walk({t / "x/y/z", t / "x/w"});
  EXPECT_EQ(plan.root, t / "x");
  EXPECT_EQ(walk_all(plan), (std::vector<std::string>{"w", "y", "y/z"}));
  EXPECT_THROW(plan_walk({t / "missing"}), Error);
}

}  // namespace
}  // namespace sr::source

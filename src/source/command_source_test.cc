#include "source/command_source.h"

#include <gtest/gtest.h>
#include <stdlib.h>

namespace sr::source {
namespace {

std::string read_all(int fd) {
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

// Regression: the repository password leaked into backed-up commands (review finding 4).
TEST(CommandProcess, PasswordVariablesAreNotPassedOn) {
  ::setenv("STRONGROOM_PASSWORD", "s3cret", 1);
  ::setenv("STRONGROOM_PASSWORD_FILE", "/tmp/pw", 1);
  ::setenv("STRONGROOM_OTHER", "kept", 1);
  CommandProcess p("env");
  std::string out = read_all(p.stdout_fd());
  EXPECT_EQ(p.wait(), 0);
  EXPECT_EQ(out.find("s3cret"), std::string::npos);
  EXPECT_EQ(out.find("STRONGROOM_PASSWORD_FILE"), std::string::npos);
  EXPECT_NE(out.find("STRONGROOM_OTHER=kept"), std::string::npos);
  ::unsetenv("STRONGROOM_PASSWORD");
  ::unsetenv("STRONGROOM_PASSWORD_FILE");
}

// Regression (issue 10, defect 8): storage credentials reached backed-up commands.
TEST(CommandProcess, StorageCredentialsAreNotPassedOn) {
  ::setenv("AWS_SECRET_ACCESS_KEY", "aws-secret-value", 1);
  ::setenv("AZURE_STORAGE_KEY", "azure-key-value", 1);
  CommandProcess p("env");
  std::string out = read_all(p.stdout_fd());
  EXPECT_EQ(p.wait(), 0);
  ::unsetenv("AWS_SECRET_ACCESS_KEY");
  ::unsetenv("AZURE_STORAGE_KEY");
  EXPECT_EQ(out.find("aws-secret-value"), std::string::npos);
  EXPECT_EQ(out.find("azure-key-value"), std::string::npos);
  EXPECT_NE(out.find("PATH="), std::string::npos) << out;
}

TEST(CommandProcess, ExitStatusAndStderrTail) {
  CommandProcess p("echo out; echo oops >&2; exit 3");
  EXPECT_EQ(read_all(p.stdout_fd()), "out\n");
  EXPECT_EQ(p.wait(), 3);
  EXPECT_EQ(p.stderr_tail(), "oops\n");
}

// Regression: a background child holding stderr open made wait() hang (review finding 7).
TEST(CommandProcess, StragglerHoldingStderrDoesNotHang) {
  CommandProcess p("(sleep 30 >/dev/null) 2>&2 & echo done");
  EXPECT_EQ(read_all(p.stdout_fd()), "done\n");
  EXPECT_EQ(p.wait(), 0);
}

TEST(CommandProcess, DestructorKillsTheProcessGroup) {
  auto start = std::chrono::steady_clock::now();
  { CommandProcess p("sleep 30 & sleep 30"); }
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace sr::source

#include "daemon/child.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include "base/time_util.h"

namespace sr::daemon {
namespace {

TEST(Child, CapturesOutputAndExitStatus) {
  ChildOptions o;
  o.argv = {"/bin/sh", "-c", "read x; echo \"got $x\"; echo oops >&2; exit 3"};
  o.stdin_text = "hello\n";
  auto c = Child::start(o);
  auto e = c->wait();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exit_code, 3);
  EXPECT_EQ(e->out, "got hello\n");
  EXPECT_EQ(e->err, "oops\n");
}

// A notification script that starts something in the background (which keeps the pipes open)
// must not hold the daemon: the output is read to the child's end plus a bounded grace.
TEST(Child, ABackgroundProcessHoldingThePipesDoesNotBlockWait) {
  ChildOptions o;
  o.argv = {"/bin/sh", "-c", "echo started; (sleep 30) & exit 0"};
  auto c = Child::start(o);
  double t0 = monotonic_seconds();
  auto e = c->wait();
  ASSERT_TRUE(e);
  EXPECT_EQ(e->exit_code, 0);
  EXPECT_EQ(e->out, "started\n");
  EXPECT_LT(monotonic_seconds() - t0, 5.0);
}

// Descriptors the daemon holds without O_CLOEXEC (cpp-httplib's accepted connections) do not
// reach children.
TEST(Child, InheritsNoDescriptorBeyondTheStandardOnes) {
  int fd = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC, like an accepted socket
  ASSERT_GE(fd, 3);
  ChildOptions o;
  o.argv = {"/bin/sh", "-c", "ls /proc/$$/fd"};
  auto c = Child::start(o);
  auto e = c->wait();
  ::close(fd);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->out, "0\n1\n2\n") << "a descriptor leaked into the child";
}

TEST(Child, TerminateReachesTheProcessGroup) {
  ChildOptions o;
  o.argv = {"/bin/sh", "-c", "sleep 30 & sleep 30; wait"};
  auto c = Child::start(o);
  EXPECT_FALSE(c->wait(std::chrono::milliseconds(200)));  // still running
  c->terminate();
  auto e = c->wait(std::chrono::seconds(5));
  ASSERT_TRUE(e);
  EXPECT_NE(e->signal, 0);
}

}  // namespace
}  // namespace sr::daemon

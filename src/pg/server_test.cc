// Tests of the local server controller against a real PostgreSQL. PostgreSQL refuses to run as
// root, so the cases that start a server run only as another user with the binaries present
// (SR_PG_BIN, default /usr/lib/postgresql/15/bin): tests/e2e/test_pg_server.sh runs them as the
// test database user. As root only the refusal is tested.
#include "pg/server.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "base/error.h"
#include "base/time_util.h"
#include "testing/test_env.h"

namespace sr::pg {
namespace {

std::string pg_bin() {
  const char* b = sr::testing::test_env("SR_PG_BIN");
  return b && *b ? b : "/usr/lib/postgresql/15/bin";
}

class PgServer : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (::geteuid() == 0 || ::access((pg_bin() + "/initdb").c_str(), X_OK) != 0) return;
    std::string tmpl =
        std::string(sr::testing::test_env("TMPDIR") ? sr::testing::test_env("TMPDIR") : "/tmp") +
        "/sr-pgserver-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl.data()), nullptr);
    root_ = tmpl;
    data_ = root_ + "/data";
    std::string cmd = "'" + pg_bin() + "/initdb' -D '" + data_ +
                      "' -A trust -U postgres --no-locale -E UTF8 --no-sync >'" + root_ +
                      "/initdb.log' 2>&1";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << "initdb failed, see " << root_ << "/initdb.log";
  }
  static void TearDownTestSuite() {
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }
  void SetUp() override {
    if (::geteuid() == 0) GTEST_SKIP() << "PostgreSQL does not run as root (see file comment)";
    if (data_.empty()) GTEST_SKIP() << "no PostgreSQL binaries in " << pg_bin();
  }
  ServerSettings settings() const {
    ServerSettings s;
    s.bin_dir = pg_bin();
    s.data_dir = data_;
    s.start_timeout_seconds = 60;
    return s;
  }
  static bool postmaster_running() {
    std::string cmd = "'" + pg_bin() + "/pg_ctl' -D '" + data_ + "' status >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }
  static std::string root_, data_;
};
std::string PgServer::root_, PgServer::data_;

TEST_F(PgServer, StartsOnAFreeLoopbackPortQueriesAndStops) {
  auto s = Server::start(settings(), OpContext{});
  EXPECT_GT(s->port(), 0);
  EXPECT_TRUE(s->running());
  EXPECT_EQ(s->query("SELECT 40 + 2"), "42");
  EXPECT_EQ(s->query("SHOW listen_addresses"), "127.0.0.1");
  EXPECT_EQ(s->query("SHOW unix_socket_directories"), s->socket_dir());
  EXPECT_EQ(s->query("SHOW port"), std::to_string(s->port()));
  EXPECT_EQ(s->query("SELECT current_user"), "postgres");
  // Not in recovery: promoted at once.
  EXPECT_EQ(s->wait_for_recovery(5, RecoveryAction::kPromote, OpContext{}), RecoveryEnd::kPromoted);
  s->stop();
  EXPECT_FALSE(s->running());
  EXPECT_FALSE(std::filesystem::exists(s->socket_dir()));
  EXPECT_THROW(s->query("SELECT 1"), Error);
}

TEST_F(PgServer, GivenPortAndOptions) {
  ServerSettings st = settings();
  st.port = free_loopback_port();
  st.options = {"work_mem=7MB", "application_name=it's me"};
  auto s = Server::start(st, OpContext{});
  EXPECT_EQ(s->port(), st.port);
  EXPECT_EQ(s->query("SHOW work_mem"), "7MB");
}

TEST_F(PgServer, DestructorStopsWhatItStartedUnlessReleased) {
  { auto s = Server::start(settings(), OpContext{}); }
  EXPECT_FALSE(postmaster_running());
  std::string sock;
  {
    auto s = Server::start(settings(), OpContext{});
    sock = s->socket_dir();
    s->release();
  }
  EXPECT_TRUE(postmaster_running());
  std::string cmd = "'" + pg_bin() + "/pg_ctl' -D '" + data_ + "' -m fast -w stop >/dev/null 2>&1";
  EXPECT_EQ(std::system(cmd.c_str()), 0);
  std::filesystem::remove_all(sock);
}

TEST_F(PgServer, WaitForRecoveryTimesOutAndIsCancellable) {
  // A standby without a primary stays in recovery for ever.
  std::ofstream(data_ + "/standby.signal").close();
  auto s = Server::start(settings(), OpContext{});
  std::filesystem::remove(data_ + "/standby.signal");
  EXPECT_EQ(s->query("SELECT pg_is_in_recovery()::text"), "true");
  double t0 = monotonic_seconds();
  try {
    s->wait_for_recovery(1, RecoveryAction::kPromote, OpContext{});
    FAIL() << "no timeout";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kIo);
    EXPECT_NE(std::string(e.what()).find("has not finished recovery after 1 s"), std::string::npos)
        << e.what();
  }
  EXPECT_LT(monotonic_seconds() - t0, 10);

  CancelToken cancel;
  OpContext ctx;
  ctx.cancel = &cancel;
  std::jthread canceller([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    cancel.cancel();
  });
  t0 = monotonic_seconds();
  try {
    s->wait_for_recovery(600, RecoveryAction::kPause, ctx);
    FAIL() << "not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled);
  }
  EXPECT_LT(monotonic_seconds() - t0, 10);
}

TEST_F(PgServer, AServerThatCannotStartNamesItsLog) {
  ServerSettings st = settings();
  st.data_dir = root_ + "/not-a-cluster";
  std::filesystem::create_directories(st.data_dir);
  st.log_file = root_ + "/failed.log";
  st.what = "the test server";
  try {
    Server::start(st, OpContext{});
    FAIL() << "started";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kIo);
    EXPECT_EQ(std::string(e.what()), "the test server did not start (see " + st.log_file + ")");
  }
}

TEST(PgServerRoot, RootIsRefusedBeforeAnythingRuns) {
  if (::geteuid() != 0) GTEST_SKIP() << "only as root";
  ServerSettings st;
  st.bin_dir = "/nonexistent";
  st.data_dir = "/nonexistent";
  try {
    Server::start(st, OpContext{});
    FAIL() << "started as root";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    EXPECT_NE(std::string(e.what()).find("does not run as root"), std::string::npos);
  }
}

TEST(PgServerPort, FreeLoopbackPortsAreUsablePorts) {
  int p = free_loopback_port();
  EXPECT_GT(p, 0);
  EXPECT_LT(p, 65536);
}

}  // namespace
}  // namespace sr::pg

#include "ops/pg_recovery_conf.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "base/fs.h"
#include "testing/temp_dir.h"

namespace sr::ops {
namespace {

PgRestoreOptions options() {
  PgRestoreOptions o;
  o.stanza = "main";
  o.self_exe = "/usr/bin/strongroom";
  o.repo_url = "/srv/it's repo";
  o.password_file = "/etc/sr/pw";
  return o;
}

TEST(PgRecoveryConf, Quoting) {
  EXPECT_EQ(quote_conf("it's"), "'it''s'");
  EXPECT_EQ(sr::shell_quote("it's"), "'it'\\''s'");
}

TEST(PgRecoveryConf, RestoreCommandWithPasswordOrKeyFile) {
  auto o = options();
  EXPECT_EQ(restore_command(o),
            "'/usr/bin/strongroom' wal-get --repo '/srv/it'\\''s repo' --stanza 'main' "
            "--password-file '/etc/sr/pw' --prefetch 8 %f %p");
  o.key_file = "/etc/sr/key";
  EXPECT_NE(restore_command(o).find("--key-file '/etc/sr/key'"), std::string::npos);
  EXPECT_EQ(restore_command(o).find("--password-file"), std::string::npos);
}

// A repository of the configuration file: wal-get reads the same file (its credentials and
// endpoint), not just the URL.
TEST(PgRecoveryConf, RestoreCommandReadsTheConfigurationFile) {
  auto o = options();
  o.config_file = "/etc/strongroom/strongroom.yaml";
  o.config_repository = "dr";
  EXPECT_EQ(restore_command(o),
            "'/usr/bin/strongroom' wal-get --config '/etc/strongroom/strongroom.yaml' "
            "--repository 'dr' --stanza 'main' --password-file '/etc/sr/pw' --prefetch 8 %f %p");
}

// The CA bundle the restore used reaches the restored server's wal-get (issue 10, TLS).
TEST(PgRecoveryConf, RestoreCommandPassesTheCaFile) {
  auto o = options();
  EXPECT_EQ(restore_command(o).find("--ca-file"), std::string::npos);
  o.ca_file = "/etc/pki/it's ca.pem";
  EXPECT_NE(restore_command(o).find(" --ca-file '/etc/pki/it'\\''s ca.pem' --prefetch"),
            std::string::npos);
}

// A restore_command that cannot work (no credential file, or a relative one) is refused, never
// written with `--password-file ''`.
TEST(PgRecoveryConf, RestoreCommandThatCannotWorkIsRefused) {
  auto o = options();
  o.password_file.clear();
  EXPECT_THROW(restore_command(o), Error);
  EXPECT_THROW(recovery_settings(o, "abc", catalog::parse_recovery_target("", "")), Error);
  o.password_file = "pw";
  EXPECT_THROW(restore_command(o), Error);
  o.password_file.clear();
  o.key_file = "keys/k";
  EXPECT_THROW(restore_command(o), Error);
}

// The writes after the tree, into a data directory a crafted backup produced.
class RecoveryFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    mkdirs(dir_ / "data/pg_wal", 0700);
    mkdirs(dir_ / "outside", 0700);
    write_file_atomic(dir_ / "outside/victim", as_bytes("untouched\n"));
  }
  void write() { write_recovery_files(dir_ / "data", "LABEL\n", "restore_command = 'x'\n"); }
  bool outside_untouched() {
    auto n = std::distance(std::filesystem::directory_iterator(dir_ / "outside"),
                           std::filesystem::directory_iterator());
    return as_chars(read_file(dir_ / "outside/victim")) == "untouched\n" && n == 1;
  }
  sr::testing::TempDir dir_;
};

TEST_F(RecoveryFiles, WrittenBeneathTheDataDirectory) {
  write_file_atomic(dir_ / "data/postgresql.auto.conf", as_bytes("port = 5\n"));
  write();
  EXPECT_EQ(as_chars(read_file(dir_ / "data/postgresql.auto.conf")),
            "port = 5\nrestore_command = 'x'\n");
  EXPECT_EQ(as_chars(read_file(dir_ / "data/backup_label")), "LABEL\n");
  EXPECT_TRUE(path_exists(dir_ / "data/recovery.signal"));
  struct stat st;
  ASSERT_EQ(::lstat((dir_ / "data/pg_wal/archive_status").c_str(), &st), 0);
  EXPECT_TRUE(S_ISDIR(st.st_mode));
}

TEST_F(RecoveryFiles, SymlinkedAutoConfIsRefused) {
  ASSERT_EQ(
      ::symlink((dir_ / "outside/victim").c_str(), (dir_ / "data/postgresql.auto.conf").c_str()),
      0);
  try {
    write();
    ADD_FAILURE() << "a symlinked postgresql.auto.conf was written through";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("postgresql.auto.conf in the target is not a regular "
                                         "file (a symlink)"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(outside_untouched());
}

TEST_F(RecoveryFiles, NonRegularAutoConfIsRefused) {
  ASSERT_EQ(::mkfifo((dir_ / "data/postgresql.auto.conf").c_str(), 0600), 0);
  EXPECT_THROW(write(), Error);  // and does not block on the FIFO
  std::filesystem::remove(dir_ / "data/postgresql.auto.conf");
  mkdirs(dir_ / "data/postgresql.auto.conf", 0700);
  EXPECT_THROW(write(), Error);
}

TEST_F(RecoveryFiles, SymlinkedPgWalIsNotFollowed) {
  std::filesystem::remove(dir_ / "data/pg_wal");
  ASSERT_EQ(::symlink((dir_ / "outside").c_str(), (dir_ / "data/pg_wal").c_str()), 0);
  EXPECT_THROW(write(), Error);
  EXPECT_TRUE(outside_untouched());
}

TEST_F(RecoveryFiles, SymlinkedLabelOrSignalIsReplacedNotFollowed) {
  ASSERT_EQ(::symlink((dir_ / "outside/victim").c_str(), (dir_ / "data/backup_label").c_str()), 0);
  ASSERT_EQ(::symlink((dir_ / "outside/x").c_str(), (dir_ / "data/recovery.signal").c_str()), 0);
  write();
  EXPECT_TRUE(outside_untouched());
  EXPECT_EQ(as_chars(read_file(dir_ / "data/backup_label")), "LABEL\n");
  struct stat st;
  ASSERT_EQ(::lstat((dir_ / "data/recovery.signal").c_str(), &st), 0);
  EXPECT_TRUE(S_ISREG(st.st_mode));
}

TEST(PgRecoveryConf, TargetsAndActions) {
  auto o = options();
  auto latest = recovery_settings(o, "abc", catalog::parse_recovery_target("", ""));
  EXPECT_NE(latest.find("# Added by strongroom restore of backup abc\n"), std::string::npos);
  EXPECT_NE(latest.find("recovery_target_timeline = 'latest'\n"), std::string::npos);
  EXPECT_EQ(latest.find("recovery_target_action"), std::string::npos);
  EXPECT_NE(latest.find("archive_mode = 'off'\n"), std::string::npos);
  // The restore_command line is the command quoted for postgresql.conf.
  EXPECT_NE(latest.find("restore_command = " + quote_conf(restore_command(o)) + "\n"),
            std::string::npos);

  o.target_action = "pause";
  o.archive = true;
  auto t =
      recovery_settings(o, "abc", catalog::parse_recovery_target("time", "2026-01-01T00:00:00Z"));
  EXPECT_NE(t.find("recovery_target_time = '2026-01-01 00:00:00.000000+00'\n"), std::string::npos)
      << t;
  EXPECT_NE(t.find("recovery_target_action = 'pause'\n"), std::string::npos);
  EXPECT_EQ(t.find("archive_mode"), std::string::npos);
  EXPECT_NE(recovery_settings(o, "a", catalog::parse_recovery_target("lsn", "16/b374d848"))
                .find("recovery_target_lsn = '16/B374D848'\n"),
            std::string::npos);
  EXPECT_NE(recovery_settings(o, "a", catalog::parse_recovery_target("xid", "4711"))
                .find("recovery_target_xid = '4711'\n"),
            std::string::npos);
  EXPECT_NE(recovery_settings(o, "a", catalog::parse_recovery_target("name", "o'clock"))
                .find("recovery_target_name = 'o''clock'\n"),
            std::string::npos);
  EXPECT_NE(recovery_settings(o, "a", catalog::parse_recovery_target("immediate", ""))
                .find("recovery_target = 'immediate'\n"),
            std::string::npos);
}

}  // namespace
}  // namespace sr::ops

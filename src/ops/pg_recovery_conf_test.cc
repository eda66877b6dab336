#include "ops/pg_recovery_conf.h"

#include <gtest/gtest.h>

#include "base/fs.h"

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

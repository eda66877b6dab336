// The allow-list of variables a child process sees (issue 10, defect 8).
#include "source/child_env.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace sr::source {
namespace {

bool has(const std::vector<std::string>& env, const std::string& entry) {
  return std::find(env.begin(), env.end(), entry) != env.end();
}

TEST(ChildEnv, SecretsNeverReachAChild) {
  std::vector<std::string> src = {"AWS_SECRET_ACCESS_KEY=s1",
                                  "AWS_SESSION_TOKEN=s2",
                                  "AWS_ACCESS_KEY_ID=s3",
                                  "AZURE_STORAGE_KEY=s4",
                                  "AZURE_STORAGE_CONNECTION_STRING=s5",
                                  "AZURE_STORAGE_SAS_TOKEN=s6",
                                  "STRONGROOM_PASSWORD=s7",
                                  "STRONGROOM_PASSWORD_FILE=/p",
                                  "STRONGROOM_NEW_PASSWORD=s8",
                                  "STRONGROOM_KEY_FILE=/k",
                                  "GITHUB_TOKEN=s9",
                                  "MY_SECRET=s10",
                                  "PATH=/usr/bin",
                                  "HOME=/home/u",
                                  "LANG=C.UTF-8",
                                  "LC_TIME=C",
                                  "TZ=UTC",
                                  "TMPDIR=/var/tmp",
                                  "PGHOST=/run/postgresql",
                                  "PGPASSWORD=dbpw",
                                  "STRONGROOM_STAGING_DIR=/s",
                                  "NOEQUALS"};
  std::vector<char*> envp;
  for (auto& e : src) envp.push_back(e.data());
  envp.push_back(nullptr);
  for (ChildKind kind : {ChildKind::kCommand, ChildKind::kServer}) {
    std::vector<std::string> env = child_environment(kind, envp.data());
    for (const auto& e : env) EXPECT_EQ(e.find("=s"), std::string::npos) << e;
    for (const char* kept : {"PATH=/usr/bin", "HOME=/home/u", "LANG=C.UTF-8", "LC_TIME=C", "TZ=UTC",
                             "TMPDIR=/var/tmp", "PGHOST=/run/postgresql"})
      EXPECT_TRUE(has(env, kept)) << kept;
    EXPECT_FALSE(has(env, "STRONGROOM_PASSWORD_FILE=/p"));
    EXPECT_FALSE(has(env, "STRONGROOM_KEY_FILE=/k"));
    EXPECT_TRUE(has(env, "STRONGROOM_STAGING_DIR=/s"));
  }
  // A backed-up command keeps its own database password; the server never needs one.
  EXPECT_TRUE(has(child_environment(ChildKind::kCommand, envp.data()), "PGPASSWORD=dbpw"));
  EXPECT_FALSE(has(child_environment(ChildKind::kServer, envp.data()), "PGPASSWORD=dbpw"));
}

TEST(ChildEnv, NamesAreMatchedWhole) {
  EXPECT_FALSE(child_may_inherit("PATHX", ChildKind::kCommand));
  EXPECT_FALSE(child_may_inherit("XPATH", ChildKind::kCommand));
  EXPECT_FALSE(child_may_inherit("", ChildKind::kCommand));
  EXPECT_TRUE(child_may_inherit("LC_ALL", ChildKind::kServer));
  EXPECT_FALSE(child_may_inherit("AZURE_CLIENT_SECRET", ChildKind::kCommand));
}

}  // namespace
}  // namespace sr::source

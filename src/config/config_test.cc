#include "config/config.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace sr::config {
namespace {

const char* kGood = R"(# a small configuration
repositories:
  primary:
    url: /srv/backup/repo
    password_file: /etc/strongroom/password
    cost_per_gib_month: 0.02
  dr:
    url: s3://dr-bucket/strongroom
    replicate_from: primary
    password_env: DR_PASSWORD
    s3:
      region: eu-west-1
      access_key_id_env: DR_KEY_ID
      secret_access_key_file: /etc/strongroom/dr-secret
    limits:
      parallelism: 8
      part_size: 16M
      retry_for: 5m
sources:
  accounts:
    type: postgres
    kind: database
    pg_data: /var/lib/postgresql/15/main
    pg_conn: "host=/run/postgresql port=5432"
    schedules:
      - {type: full, cron: "0 2 * * 0"}
      - {type: incr, cron: "0 */6 * * *"}
    verify: {max_age: 25h, max_wal_lag: 5m}
    rpo: 5m
    rto: 1h
    validate:
      - name: accounts exist
        query: SELECT count(*) FROM accounts
        expect: "> 0"
      - query: SELECT count(*) FROM ledger WHERE created_at <= :target_time
        expect: source
  k8s:
    type: command
    kind: configuration
    command: kubectl get all -A -o yaml
    schedules: [{cron: "@daily"}]
  certs:
    type: files
    kind: certificates
    paths: [/etc/ssl/bank]
    retention: {keep_last: 3}
retention:
  database: {keep_within: 90d, pitr_window: 35d}
  configuration: {keep_within: 1y, keep_monthly: 24}
prune:
  grace: 2h
  max_unused: 10%
)";

std::string error_of(const std::string& text) {
  try {
    parse_config(text, "sr.yaml");
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    return e.what();
  }
  return "(accepted)";
}

TEST(Config, ReadsAGoodFile) {
  Config c = parse_config(kGood, "sr.yaml");
  ASSERT_EQ(c.repositories.size(), 2u);
  const auto& dr = c.repository("dr");
  EXPECT_EQ(dr.replicate_from, "primary");
  EXPECT_EQ(dr.password.env, "DR_PASSWORD");
  ASSERT_TRUE(dr.s3);
  EXPECT_EQ(dr.s3->access_key_id.env, "DR_KEY_ID");
  EXPECT_EQ(dr.s3->secret_access_key.file, "/etc/strongroom/dr-secret");
  EXPECT_EQ(dr.limits.parallelism, 8u);
  EXPECT_EQ(dr.limits.part_size, 16u << 20);
  EXPECT_EQ(dr.limits.retry_for, 300);
  EXPECT_DOUBLE_EQ(c.repository("primary").cost_per_gib_month, 0.02);

  ASSERT_EQ(c.sources.size(), 3u);
  EXPECT_EQ(c.sources[0].name, "accounts");  // file order
  const auto& a = c.source("accounts");
  EXPECT_EQ(a.type, SourceType::kPostgres);
  EXPECT_EQ(a.stanza, "accounts");
  EXPECT_EQ(a.repository, "primary");
  ASSERT_EQ(a.schedules.size(), 2u);
  EXPECT_EQ(a.schedules[1].type, "incr");
  EXPECT_EQ(a.verify.max_age, 25 * 3600);
  EXPECT_EQ(a.verify.max_wal_lag, 300);
  EXPECT_EQ(a.rpo, 300);
  ASSERT_EQ(a.validate.size(), 2u);
  EXPECT_EQ(a.validate[0].name, "accounts exist");
  EXPECT_EQ(a.validate[1].expect, "source");
  EXPECT_EQ(c.retention_for(a).keep_within, 90 * 86400);
  EXPECT_EQ(c.retention_for(a).pitr_window, 35 * 86400);
  EXPECT_EQ(c.source("k8s").output_name, "k8s");
  EXPECT_EQ(c.source("k8s").schedules[0].type, "");
  EXPECT_EQ(c.retention_for(c.source("certs")).keep_last, 3);
  EXPECT_EQ(c.prune_grace, 7200);
  EXPECT_DOUBLE_EQ(c.prune_max_unused, 0.10);
  EXPECT_NE(error_of(kGood).find("(accepted)"), std::string::npos);
}

TEST(Config, UnknownKeyNamesFileLineAndKey) {
  std::string text = kGood;
  text.replace(text.find("max_age: 25h"), 12, "max_agee: 25h");
  std::string e = error_of(text);
  EXPECT_NE(e.find("sr.yaml:28:14:"), std::string::npos) << e;
  EXPECT_NE(e.find("sources.accounts.verify.max_agee: unknown key"), std::string::npos) << e;
  EXPECT_NE(e.find("max_age"), std::string::npos) << e;  // the known keys are listed
}

TEST(Config, DuplicateKeyIsAnError) {
  std::string text = kGood;
  text.replace(text.find("    rpo: 5m\n"), 0, "    rpo: 1h\n");
  std::string e = error_of(text);
  EXPECT_NE(e.find("sr.yaml:30:5:"), std::string::npos) << e;
  EXPECT_NE(e.find("sources.accounts.rpo: duplicate key"), std::string::npos) << e;
  // A duplicate source name too.
  text = kGood;
  text.replace(text.find("  certs:"), 0,
               "  k8s:\n    type: files\n    kind: volume\n    paths: [/x]\n");
  e = error_of(text);
  EXPECT_NE(e.find("sources.k8s: duplicate key"), std::string::npos) << e;
}

TEST(Config, BadCronAndDurationNameTheirPlace) {
  std::string text = kGood;
  text.replace(text.find("0 */6 * * *"), 11, "0 */6 * *");
  std::string e = error_of(text);
  EXPECT_NE(e.find("sr.yaml:27:28:"), std::string::npos) << e;
  EXPECT_NE(e.find("sources.accounts.schedules[1].cron"), std::string::npos) << e;
  EXPECT_NE(e.find("expected 5 fields"), std::string::npos) << e;

  text = kGood;
  text.replace(text.find("keep_within: 90d"), 16, "keep_within: 90days");
  e = error_of(text);
  EXPECT_NE(e.find("sr.yaml:48:27:"), std::string::npos) << e;
  EXPECT_NE(e.find("retention.database.keep_within: bad duration '90days'"), std::string::npos)
      << e;
}

TEST(Config, WrongTypesAndValues) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string t = kGood;
    t.replace(t.find(from), from.size(), to);
    return error_of(t);
  };
  EXPECT_NE(with("parallelism: 8", "parallelism: eight")
                .find("limits.parallelism: expected a whole number"),
            std::string::npos);
  EXPECT_NE(with("parallelism: 8", "parallelism: 0").find("between 1 and 64"), std::string::npos);
  EXPECT_NE(
      with("paths: [/etc/ssl/bank]", "paths: {a: b}").find("sources.certs.paths: expected a list"),
      std::string::npos);
  EXPECT_NE(with("kind: certificates", "kind: secrets").find("'secrets' is not one of"),
            std::string::npos);
  EXPECT_NE(with("type: postgres", "type: mysql").find("sources.accounts.type"), std::string::npos);
  EXPECT_NE(with("expect: \"> 0\"", "expect: \"> many\"").find("needs a number"),
            std::string::npos);
  EXPECT_NE(with("replicate_from: primary", "replicate_from: tertiary")
                .find("replicate_from names no repository"),
            std::string::npos);
  EXPECT_NE(with("    pg_data: /var/lib/postgresql/15/main\n", "").find("missing key 'pg_data'"),
            std::string::npos);
  EXPECT_NE(with("max_unused: 10%", "max_unused: 150%").find("between 0 and 100"),
            std::string::npos);
  EXPECT_NE(
      with("password_env: DR_PASSWORD", "password: hunter2").find("secrets are never written"),
      std::string::npos);
  EXPECT_EQ(with("password_env: DR_PASSWORD", "password: hunter2").find("hunter2"),
            std::string::npos);
  EXPECT_NE(with("access_key_id_env: DR_KEY_ID", "access_key_id: AKIA")
                .find("s3.access_key_id: secrets are never written"),
            std::string::npos);
  EXPECT_NE(with("    retention: {keep_last: 3}\n", "    retention: {pitr_window: 3d}\n")
                .find("pitr_window is for postgres"),
            std::string::npos);
  EXPECT_NE(with("    retention: {keep_last: 3}\n", "    retention: {}\n").find("keeps nothing"),
            std::string::npos);
  EXPECT_NE(with("    kind: certificates\n", "    kind: certificates\n    repository: tape\n")
                .find("repository 'tape' is not defined"),
            std::string::npos);
}

TEST(Config, ReviewFindings) {
  auto with = [](const std::string& from, const std::string& to) {
    std::string t = kGood;
    t.replace(t.find(from), from.size(), to);
    return error_of(t);
  };
  // A repository without settings is an error naming it (it crashed with bad_alloc).
  EXPECT_NE(error_of("repositories:\n  primary:\n")
                .find("sr.yaml:2:3: repositories.primary: a repository needs settings"),
            std::string::npos)
      << error_of("repositories:\n  primary:\n");
  // An unquoted "!= 0" is a YAML tag, not an expectation.
  EXPECT_NE(with("expect: \"> 0\"", "expect: != 0").find("read as a YAML tag"), std::string::npos);
  EXPECT_NE(with("expect: \"> 0\"", "expect: \"== 5\"").find("the comparisons are"),
            std::string::npos);
  EXPECT_EQ(with("expect: \"> 0\"", "expect: \"!= 0\"").find("sr.yaml"),
            std::string::npos);  // fine quoted
  // The inline secret is pointed at where it is written.
  EXPECT_NE(with("password_env: DR_PASSWORD", "password: hunter2")
                .find("sr.yaml:10:5: repositories.dr.password"),
            std::string::npos)
      << with("password_env: DR_PASSWORD", "password: hunter2");
  EXPECT_NE(with("paths: [/etc/ssl/bank]", "paths: [etc/ssl]").find("absolute and normalised"),
            std::string::npos);
  EXPECT_NE(
      with("paths: [/etc/ssl/bank]", "paths: [/etc/ssl/../x]").find("absolute and normalised"),
      std::string::npos);
  EXPECT_NE(with("cron: \"@daily\"", "cron: \"0 0 30 2 *\"").find("never fires"),
            std::string::npos);
  EXPECT_NE(with("    password_file: /etc/strongroom/password\n",
                 "    password_file: /etc/strongroom/password\n    replicate_from: dr\n")
                .find("makes a cycle"),
            std::string::npos);
  // Two sources whose backups could not be told apart.
  EXPECT_NE(
      with("    command: kubectl get all -A -o yaml\n",
           "    command: kubectl get all -A -o yaml\n    output_name: accounts2\n  k9s:\n    type: "
           "command\n    kind: configuration\n    command: x\n    output_name: accounts2\n")
          .find("output_name 'accounts2' is that of another source"),
      std::string::npos);
}

TEST(Config, NotYamlOrEmpty) {
  EXPECT_NE(error_of("repositories: [unclosed").find("sr.yaml:"), std::string::npos);
  EXPECT_NE(error_of("repositories: [unclosed").find("not valid YAML"), std::string::npos);
  EXPECT_NE(error_of("").find("the file is empty"), std::string::npos);
  EXPECT_NE(error_of("a: 1\n---\nb: 2\n").find("one YAML document"), std::string::npos);
  EXPECT_NE(error_of("sources: {}\n").find("missing key 'repositories'"), std::string::npos);
  EXPECT_NE(error_of("- 1\n- 2\n").find("expected a mapping"), std::string::npos);
  // yaml-cpp 0.7 never returns from these (found by the fuzzer): refused before parsing.
  for (const char* bad : {",\na: 1\n", "# c\n  ,\n", "---\n,\n", "--- ,\nb: 1\n", "a: 1\n...\n,\n"})
    EXPECT_NE(error_of(bad).find("cannot start with ','"), std::string::npos) << bad;
}

TEST(Config, LookupsNameWhatExists) {
  Config c = parse_config(kGood, "sr.yaml");
  try {
    c.source("payments");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("sources: accounts, k8s, certs"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(c.repository("tape"), Error);
}

}  // namespace
}  // namespace sr::config

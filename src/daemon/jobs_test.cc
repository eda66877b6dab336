#include "daemon/jobs.h"

#include <gtest/gtest.h>

#include "base/error.h"
#include "daemon/http_api.h"
#include "daemon/notify.h"

namespace sr::daemon {
namespace {

config::Config cfg() {
  return config::parse_config(
      "repositories: {primary: {url: /tmp/r}, dr: {url: /tmp/dr}}\n"
      "sources:\n"
      "  accounts: {type: postgres, kind: database, pg_data: /d, pg_conn: host=/tmp,\n"
      "             restore_test: {cron: '0 4 1 * *', target: immediate}}\n"
      "  etc: {type: files, kind: configuration, paths: [/etc]}\n"
      "jobs: {expire: {cron: '0 5 * * *', prune: true}, replicate: {cron: '0 * * * *', to: dr}}\n",
      "test.yaml");
}

using V = std::vector<std::string>;

TEST(Jobs, EveryJobIsItsCliCommand) {
  auto c = cfg();
  EXPECT_EQ(
      job_arguments(manual_job(c, "backup", "accounts", "diff"), "/c.yaml"),
      (V{"backup", "--config", "/c.yaml", "--source", "accounts", "--type", "diff", "--json"}));
  EXPECT_EQ(job_arguments(manual_job(c, "backup", "etc", ""), "/c.yaml"),
            (V{"backup", "--config", "/c.yaml", "--source", "etc", "--json"}));
  EXPECT_EQ(
      job_arguments(manual_job(c, "restore-test", "accounts", ""), "/c.yaml"),
      (V{"restore-test", "--config", "/c.yaml", "--source", "accounts", "--immediate", "--json"}));
  EXPECT_EQ(job_arguments(manual_job(c, "expire", "", ""), "/c.yaml"),
            (V{"expire", "--config", "/c.yaml", "--repository", "primary", "--prune", "--json"}));
  EXPECT_EQ(job_arguments(manual_job(c, "replicate", "", ""), "/c.yaml"),
            (V{"replicate", "--config", "/c.yaml", "--repository", "primary", "--to-repository",
               "dr", "--json"}));
  EXPECT_EQ(job_arguments(manual_job(c, "verify", "", ""), "/c.yaml"),
            (V{"verify", "--config", "/c.yaml", "--repository", "primary", "--json"}));
}

TEST(Jobs, RequestsAreCheckedAgainstTheConfiguration) {
  auto c = cfg();
  for (auto [job, source, type] : {std::tuple{"drop-tables", "", ""},
                                   {"backup", "", ""},
                                   {"backup", "nosuch", ""},
                                   {"backup", "etc", "full"},
                                   {"backup", "accounts", "weekly"},
                                   {"expire", "etc", ""},
                                   {"prune", "", "full"}}) {
    try {
      manual_job(c, job, source, type);
      ADD_FAILURE() << job << " " << source << " " << type << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kUsage) << e.what();
    }
  }
  EXPECT_EQ(manual_job(c, "backup", "accounts", "").type, "full");
}

TEST(Jobs, OutcomeOfAResult) {
  EXPECT_EQ(read_outcome("backup", R"({"added_size": 42})").bytes, 42u);
  EXPECT_EQ(read_outcome("expire", R"({"prune": {"freed_bytes": 7}})").bytes, 7u);
  EXPECT_EQ(read_outcome("restore-test", R"({"passed": false, "error": "x"})").error, "x");
  EXPECT_EQ(read_outcome("restore-test", R"({"passed": false})").error, "a validation failed");
  EXPECT_EQ(read_outcome("backup", "not json").bytes, 0u);
}

TEST(Jobs, RequestBodies) {
  auto r = parse_job_request(R"({"job": "backup", "source": "etc", "type": null})");
  EXPECT_EQ(r.job, "backup");
  EXPECT_EQ(r.source, "etc");
  EXPECT_EQ(r.type, "");
  for (const char* bad : {"", "[]", "{}", "{\"job\": 1}", "{\"job\": \"backup\", \"extra\": 1}",
                          "{\"job\": \"backup\"", "null"}) {
    try {
      parse_job_request(bad);
      ADD_FAILURE() << bad << " accepted";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kUsage) << bad;
    }
  }
}

TEST(HttpApi, TokenComparisonAndListen) {
  EXPECT_TRUE(HttpApi::token_matches("Bearer abcdefghijklmnop", "abcdefghijklmnop"));
  EXPECT_FALSE(HttpApi::token_matches("Bearer abcdefghijklmnoq", "abcdefghijklmnop"));
  EXPECT_FALSE(HttpApi::token_matches("Bearer abcdefghijklmnopq", "abcdefghijklmnop"));
  EXPECT_FALSE(HttpApi::token_matches("bearer abcdefghijklmnop", "abcdefghijklmnop"));
  EXPECT_FALSE(HttpApi::token_matches("abcdefghijklmnop", "abcdefghijklmnop"));
  EXPECT_FALSE(HttpApi::token_matches("Bearer ", ""));  // no token configured: nothing passes
  HttpOptions o;
  parse_listen("0.0.0.0:8920", o);
  EXPECT_EQ(o.host, "0.0.0.0");
  EXPECT_EQ(o.port, 8920);
  parse_listen("[::1]:9000", o);
  EXPECT_EQ(o.host, "::1");
  for (const char* bad : {"8920", ":8920", "host:", "host:99999", "host:12x"})
    EXPECT_THROW(parse_listen(bad, o), Error) << bad;
}

TEST(Notify, EmailHeadersCannotBeInjected) {
  config::NotifierConfig::Email e;
  e.from = "strongroom@example.org";
  e.to = {"dba@example.org"};
  nlohmann::json m = {{"event", "firing"},
                      {"rule", "backup_failed"},
                      {"severity", "critical"},
                      {"source", "acc\r\nBcc: evil@example.org"},
                      {"summary", "line\n.\nend"}};
  std::string text = email_text(e, m, 0);
  EXPECT_EQ(text.find("\r\nBcc:"), std::string::npos);
  EXPECT_NE(text.find("Subject: [strongroom] FIRING critical backup_failed"), std::string::npos);
  EXPECT_NE(text.find("line\r\n.\r\nend"), std::string::npos);  // CRLF; dot-stuffing by libcurl
}

}  // namespace
}  // namespace sr::daemon

#include "base/log.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "base/context.h"
#include "base/error.h"

namespace sr::log {
namespace {

TEST(Redact, HidesSecretCarriers) {
  EXPECT_EQ(redact("Authorization: AWS4-HMAC-SHA256 Credential=AKIA/…, Signature=abc"),
            "Authorization: ***");
  EXPECT_EQ(redact("GET /c/b?sv=2021&sig=ABC%2F123&se=2026 failed"),
            "GET /c/b?sv=2021&sig=***&se=2026 failed");
  EXPECT_EQ(redact("DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=c2VjcmV0;"),
            "DefaultEndpointsProtocol=http;AccountName=dev;AccountKey=***;");
  EXPECT_EQ(redact("host=db password=hunter2 user=x"), "host=db password=*** user=x");
  EXPECT_EQ(redact("X-Amz-Signature=deadbeef&X-Amz-Credential=AKIA%2F"),
            "X-Amz-Signature=***&X-Amz-Credential=***");
}

TEST(Redact, HidesQuotedSpacedAndUriPasswords) {
  EXPECT_EQ(redact("host=db password='s3 cr\\'et' user=x"), "host=db password=*** user=x");
  EXPECT_EQ(redact("host=db password = hunter2 user=x"), "host=db password = *** user=x");
  EXPECT_EQ(redact("dsn \"password=\"two words\"\""), "dsn \"password=***\"");
  EXPECT_EQ(redact("postgresql://app:hunter2@db:5432/ledger"),
            "postgresql://app:***@db:5432/ledger");
  EXPECT_EQ(redact("see https://example.com/a:b@c"), "see https://example.com/a:b@c");
  EXPECT_EQ(redact("passwords are never logged"), "passwords are never logged");
}

TEST(Redact, LeavesOrdinaryTextAlone) {
  EXPECT_EQ(redact("backup 3f2a saved: 12 files"), "backup 3f2a saved: 12 files");
  EXPECT_EQ(redact("mysig=1 design=2"), "mysig=1 design=2");  // not at a word start
  EXPECT_EQ(redact(""), "");
}

TEST(Logger, LevelsFilterAndJsonLinesParse) {
  std::vector<std::string> lines;
  auto logger = make_callback_logger(Format::kJsonLines, Level::kInfo,
                                     [&](std::string_view l) { lines.emplace_back(l); });
  logger->debug("backup", "not shown");
  logger->info("backup", "saved");
  logger->error("storage", "PUT failed: sig=SECRET");
  ASSERT_EQ(lines.size(), 2u);
  auto j = nlohmann::json::parse(lines[1]);
  EXPECT_EQ(j["level"], "error");
  EXPECT_EQ(j["component"], "storage");
  EXPECT_EQ(j["msg"], "PUT failed: sig=***");
  EXPECT_TRUE(j["time"].get<std::string>().ends_with("Z"));
}

TEST(Logger, TextFormat) {
  std::string line;
  auto logger =
      make_callback_logger(Format::kText, Level::kDebug, [&](std::string_view l) { line = l; });
  logger->warn("restore", "target not empty");
  EXPECT_NE(line.find(" warn  restore: target not empty"), std::string::npos) << line;
  EXPECT_EQ(parse_level("warn"), Level::kWarn);
  EXPECT_THROW(parse_level("loud"), Error);
}

TEST(CancelToken, WakesWaitersAndChecks) {
  CancelToken token;
  OpContext ctx{&token, nullptr, nullptr};
  EXPECT_NO_THROW(ctx.check_cancelled());
  EXPECT_FALSE(token.wait_for(0.01));
  std::thread t([&] { token.cancel(); });
  EXPECT_TRUE(token.wait_for(30));  // returns long before 30 s
  t.join();
  try {
    ctx.check_cancelled("backup");
    FAIL() << "not cancelled";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled);
    EXPECT_STREQ(e.what(), "backup cancelled");
  }
  OpContext none;
  EXPECT_FALSE(none.cancelled());
  none.log().error("x", "discarded");
}

}  // namespace
}  // namespace sr::log

#include "ops/verify.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/random.h"
#include "ops/backup.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

class VerifyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sr::testing::init_test_repository(dir_);
    mkdirs(dir_ / "src");
    for (int i = 0; i < 4; ++i)
      write_file_atomic(dir_ / ("src/f" + std::to_string(i)), random_bytes(300000));
    FilesBackupOptions o;
    o.paths = {dir_ / "src"};
    backup_files(*open(), o, {});
  }
  std::unique_ptr<repo::Repository> open() { return sr::testing::open_test_repository(dir_); }
  sr::testing::TempDir dir_;
};

TEST_F(VerifyTest, ReportJsonHasTheCliKeysAndTypes) {
  VerifyOptions o;
  o.read_data = true;
  Counters counters;
  VerifyReport r = verify(*open(), o, {nullptr, &counters, nullptr});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(counters.bytes.load(), r.bytes_read);
  nlohmann::json j = r.to_json();
  EXPECT_EQ(j["ok"], true);
  EXPECT_TRUE(j["problems"].is_array() && j["problems"].empty());
  EXPECT_TRUE(j["damaged_backups"].is_array() && j["damaged_backups"].empty());
  EXPECT_EQ(j["backups"], 1u);
  EXPECT_EQ(j["packs"], r.packs);
  EXPECT_EQ(j["index_objects"], r.index_objects);
  EXPECT_EQ(j["unreferenced_packs"], 0u);
  EXPECT_GT(j["chunks_checked"].get<uint64_t>(), 0u);
  EXPECT_EQ(j["bytes_read"], r.bytes_read);
  EXPECT_EQ(j["read_data"], true);
  EXPECT_EQ(j["missing_packs"], 0u);
  EXPECT_TRUE(j["missing_pack_names"].is_array() && j["missing_pack_names"].empty());
  EXPECT_EQ(j["rollback"]["went_backwards"], false);
  EXPECT_TRUE(j["rollback"]["missing_manifests"].is_array());
  EXPECT_EQ(j["state_accepted"], false);
  EXPECT_TRUE(j["sources"].is_array() && j["sources"].empty());  // no configuration
  EXPECT_TRUE(j["read_data_subset"].is_null());                  // no subset
  EXPECT_EQ(j.size(), 16u);

  r.problems = {"pack x is missing"};
  r.damaged_backups = {"b2", "a1"};
  j = r.to_json();
  EXPECT_EQ(j["ok"], false);
  EXPECT_EQ(j["problems"], nlohmann::json::array({"pack x is missing"}));
  EXPECT_EQ(j["damaged_backups"], nlohmann::json::array({"a1", "b2"}));
  EXPECT_EQ(verify(*open(), {}, {}).to_json()["read_data"], false);
}

TEST_F(VerifyTest, DeletedManifestFailsVerifyUntilAccepted) {
  auto ids = open()->list_manifest_ids();
  ASSERT_EQ(ids.size(), 1u);
  EXPECT_TRUE(verify(*open(), {}, {}).ok());  // the state has seen the backup
  open()->storage().remove("manifests/" + ids[0]);
  VerifyReport r = verify(*open(), {}, {});
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.rollback.missing_manifests, ids);
  ASSERT_FALSE(r.problems.empty());
  EXPECT_NE(r.problems.back().find(ids[0]), std::string::npos);
  VerifyOptions accept;
  accept.accept_state = true;
  r = verify(*open(), accept, {});
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(r.state_accepted);
  EXPECT_TRUE(verify(*open(), {}, {}).ok());
}

TEST_F(VerifyTest, CancelledVerifyThrowsCancelled) {
  CancelToken token;
  token.cancel();
  VerifyOptions o;
  o.read_data = true;
  try {
    verify(*open(), o, {&token, nullptr, nullptr});
    FAIL() << "a cancelled verify finished";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled);
  }
}

}  // namespace
}  // namespace sr::ops

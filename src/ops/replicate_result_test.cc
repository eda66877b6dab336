// ops/replicate: the result's JSON and cancellation (the two-backend test lives elsewhere).
#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/random.h"
#include "base/time_util.h"
#include "ops/backup.h"
#include "ops/replicate.h"
#include "storage/local_storage.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

TEST(ReplicateResult, JsonHasTheCliKeysAndTypes) {
  ReplicateResult r;
  r.source = "local /a";
  r.target = "local /b";
  r.source_objects = 10;
  r.missing_objects = 3;
  r.missing_bytes = 300;
  r.copied_objects = 3;
  r.copied_bytes = 300;
  r.seconds = 1.5;
  r.created = true;
  nlohmann::json j = r.to_json();
  nlohmann::json expect = {{"source", "local /a"},
                           {"target", "local /b"},
                           {"created", true},
                           {"source_objects", 10u},
                           {"lag", {{"objects", 3u}, {"bytes", 300u}}},
                           {"copied_objects", 3u},
                           {"copied_bytes", 300u},
                           {"seconds", 1.5}};
  EXPECT_EQ(j, expect);
  // With an unreplicated backup: when it ended, and how long before the run ended.
  r.newest_missing_backup_ns = 1700000000000000000;
  r.finished_ns = r.newest_missing_backup_ns + 90 * 1000000000ll;
  j = r.to_json();
  EXPECT_EQ(j["lag"]["newest_unreplicated_backup"], format_rfc3339(r.newest_missing_backup_ns));
  EXPECT_DOUBLE_EQ(j["lag"]["newest_unreplicated_backup_age_seconds"].get<double>(), 90.0);
  EXPECT_EQ(j["lag"].size(), 4u);
}

TEST(Replicate, CancelledRunStopsAndTheNextOneCompletes) {
  sr::testing::TempDir dir;
  sr::testing::init_test_repository(dir);
  mkdirs(dir / "src");
  write_file_atomic(dir / "src/f", random_bytes(200000));
  auto source = sr::testing::open_test_repository(dir);
  FilesBackupOptions bo;
  bo.paths = {dir / "src"};
  auto backup = backup_files(*source, bo, {});
  storage::LocalStorage target(dir / "replica");
  CancelToken token;
  token.cancel();
  try {
    replicate(*source, target, {}, {&token, nullptr, nullptr});
    FAIL() << "a cancelled replicate finished";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled);
  }
  Counters counters;
  ReplicateResult r = replicate(*source, target, {}, {nullptr, &counters, nullptr});
  EXPECT_GT(r.copied_objects, 0u);
  EXPECT_TRUE(r.created);
  // Progress counts every object but the config, which is written last.
  EXPECT_EQ(counters.bytes.load(),
            r.copied_bytes - static_cast<storage::Storage&>(target).get("config").size());
  EXPECT_GT(r.newest_missing_backup_ns, 0);
  EXPECT_GE(r.finished_ns, r.newest_missing_backup_ns);
  auto replica =
      repo::Repository::open(std::make_unique<storage::LocalStorage>(dir / "replica"),
                             repo::Credential{"pw", false}, sr::testing::test_repo_options(dir));
  EXPECT_EQ(replica->resolve_backup("latest"), backup.manifest.id);
}

}  // namespace
}  // namespace sr::ops

#include "repo/client_state.h"

#include <gtest/gtest.h>

#include "base/fs.h"
#include "base/log.h"
#include "repo/repository.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::repo {
namespace {

Manifest make_manifest(const std::string& id, const std::string& host, int64_t t) {
  Manifest m;
  m.id = id;
  m.type = "files";
  m.host = host;
  m.paths = {"/data"};
  m.source = "/data";
  m.time_ns = m.end_time_ns = t;
  return m;
}

TEST(ClientStateTest, NewestOfASeriesGoneIsARollback) {
  ClientState seen;
  auto a = make_manifest("aa", "h1", 1), b = make_manifest("bb", "h1", 2);
  seen.add_manifests({"aa", "bb"}, {a, b});
  EXPECT_EQ(seen.series.at(series_key(b)).manifest_id, "bb");
  std::vector<std::string> ids = {"aa"};
  std::vector<Manifest> readable = {a};
  StateDiff d = diff_state(seen, &ids, &readable, nullptr);
  EXPECT_TRUE(d.any());
  EXPECT_EQ(d.missing_manifests, std::vector<std::string>{"bb"});
  ASSERT_EQ(d.rolled_back_series.size(), 1u);
  EXPECT_NE(d.rolled_back_series[0].find("bb"), std::string::npos);
  EXPECT_FALSE(d.messages().empty());
}

TEST(ClientStateTest, NewManifestsFromAnotherClientAreFine) {
  ClientState seen;
  auto a = make_manifest("aa", "h1", 1);
  seen.add_manifests({"aa"}, {a});
  seen.index_objects = {"i1"};
  auto other = make_manifest("cc", "h2", 5), newer = make_manifest("dd", "h1", 9);
  std::vector<std::string> ids = {"aa", "cc", "dd"}, index = {"i1", "i2"};
  std::vector<Manifest> readable = {a, other, newer};
  StateDiff d = diff_state(seen, &ids, &readable, &index);
  EXPECT_FALSE(d.any());
  EXPECT_TRUE(d.messages().empty());
}

TEST(ClientStateTest, AnOlderBackupGoneIsReportedButIsNoRollbackOfItsSeries) {
  ClientState seen;
  auto a = make_manifest("aa", "h1", 1), b = make_manifest("bb", "h1", 2);
  seen.add_manifests({"aa", "bb"}, {a, b});
  std::vector<std::string> ids = {"bb"};
  std::vector<Manifest> readable = {b};
  StateDiff d = diff_state(seen, &ids, &readable, nullptr);
  EXPECT_EQ(d.missing_manifests, std::vector<std::string>{"aa"});
  EXPECT_TRUE(d.rolled_back_series.empty());
}

TEST(ClientStateTest, MissingIndexObjectsAreReported) {
  ClientState seen;
  seen.index_objects = {"i1", "i2"};
  std::vector<std::string> index = {"i2", "i3"};
  StateDiff d = diff_state(seen, nullptr, nullptr, &index);
  EXPECT_EQ(d.missing_index_objects, std::vector<std::string>{"i1"});
}

class ClientStateFileTest : public ::testing::Test {
 protected:
  ClientStateFile file(const std::string& repo_id = "r1", uint8_t key_byte = 7) {
    codec::Key32 key{};
    key.fill(key_byte);
    return ClientStateFile(dir_ / "state.json", key, repo_id);
  }
  ClientState sample() {
    ClientState s;
    s.add_manifests({"aa", "bb"}, {make_manifest("aa", "h", 1), make_manifest("bb", "h", 2)});
    s.index_objects = {"i1"};
    return s;
  }
  sr::testing::TempDir dir_;
};

TEST_F(ClientStateFileTest, RoundTrips) {
  EXPECT_EQ(file().load().state, ClientState{});  // absent: empty, no warning
  EXPECT_TRUE(file().load().warning.empty());
  file().save(sample());
  auto loaded = file().load();
  EXPECT_TRUE(loaded.warning.empty()) << loaded.warning;
  EXPECT_EQ(loaded.state, sample());
}

TEST_F(ClientStateFileTest, TamperedStateIsDiscardedWithAWarning) {
  file().save(sample());
  Bytes raw = read_file(dir_ / "state.json");
  std::string text(as_chars(raw));
  auto pos = text.find("bb");
  ASSERT_NE(pos, std::string::npos);
  text.replace(pos, 2, "cc");  // a forged manifest id
  write_file_atomic(dir_ / "state.json", as_bytes(text));
  auto loaded = file().load();
  EXPECT_EQ(loaded.state, ClientState{});
  EXPECT_NE(loaded.warning.find("discarded"), std::string::npos);
}

TEST_F(ClientStateFileTest, AnotherRepositoryOrKeyDoesNotAuthenticate) {
  file().save(sample());
  EXPECT_FALSE(file("r2").load().warning.empty());
  EXPECT_FALSE(file("r1", 8).load().warning.empty());
  write_file_atomic(dir_ / "state.json", as_bytes("garbage"));
  EXPECT_FALSE(file().load().warning.empty());
}

// Through the Repository: listings update the state; what disappears is warned about.
class RepositoryStateTest : public ::testing::Test {
 protected:
  void SetUp() override { sr::testing::init_test_repository(dir_); }
  std::unique_ptr<Repository> open(const std::string& cache = "cache") {
    RepoOptions o{dir_ / cache};
    o.log = logger_.get();
    return Repository::open(std::make_unique<storage::LocalStorage>(dir_ / "repo"),
                            Credential{"pw", false}, o);
  }
  std::string save(Repository& repo, const std::string& host, int64_t t) {
    Manifest m = make_manifest("", host, t);
    return repo.save_manifest(m);
  }
  sr::testing::TempDir dir_;
  std::vector<std::string> warnings_;
  std::unique_ptr<log::Logger> logger_ =
      log::make_callback_logger(log::Format::kText, log::Level::kWarn,
                                [this](std::string_view line) { warnings_.emplace_back(line); });
};

TEST_F(RepositoryStateTest, DeletedNewestManifestIsReportedUntilAccepted) {
  std::string m1 = save(*open(), "h1", 1), m2 = save(*open(), "h1", 2);
  open()->scan_manifests();
  EXPECT_TRUE(warnings_.empty());
  open()->storage().remove(manifest_key(m2));
  auto repo = open();
  auto scan = repo->scan_manifests();
  ASSERT_EQ(scan.readable.size(), 1u);
  EXPECT_EQ(repo->state_diff().missing_manifests, std::vector<std::string>{m2});
  EXPECT_EQ(repo->state_diff().rolled_back_series.size(), 1u);
  ASSERT_FALSE(warnings_.empty());
  EXPECT_NE(warnings_[0].find("went backwards"), std::string::npos);
  EXPECT_NE(warnings_[0].find(m2), std::string::npos);
  // Still reported by the next client run, until accepted.
  repo = open();
  repo->resolve_backup("latest");
  EXPECT_TRUE(repo->state_diff().any());
  repo->accept_state();
  repo = open();
  repo->scan_manifests();
  EXPECT_FALSE(repo->state_diff().any());
}

TEST_F(RepositoryStateTest, AnotherClientsNewBackupsAreFine) {
  save(*open(), "h1", 1);
  open("cache")->scan_manifests();
  save(*open("cache-b"), "h2", 2);  // another host with its own cache
  save(*open("cache-b"), "h1", 3);
  auto repo = open("cache");
  EXPECT_EQ(repo->scan_manifests().readable.size(), 3u);
  EXPECT_FALSE(repo->state_diff().any());
  EXPECT_TRUE(warnings_.empty());
}

TEST_F(RepositoryStateTest, TamperedCacheIsDiscardedNotTrusted) {
  std::string m1 = save(*open(), "h1", 1);
  open()->scan_manifests();
  std::string path;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir_ / "cache"))
    if (e.path().filename().string().rfind("state-", 0) == 0) path = e.path();
  ASSERT_FALSE(path.empty());
  write_file_atomic(path, as_bytes("{\"state\":\"{}\",\"mac\":\"00\"}"));
  auto repo = open();
  repo->scan_manifests();
  EXPECT_FALSE(repo->state_diff().any());
  ASSERT_FALSE(warnings_.empty());
  EXPECT_NE(warnings_[0].find("discarded"), std::string::npos);
}

TEST_F(RepositoryStateTest, IndexObjectsGoneAreReportedButNotOurOwnRemovals) {
  auto repo = open();
  std::string a = repo->write_index_object({});
  std::string b = repo->write_index_object({});
  repo->load_index();
  repo->remove_index_object(a);  // strongroom's own deletion: not reported
  repo = open();
  repo->load_index();
  EXPECT_FALSE(repo->state_diff().any());
  repo->storage().remove("index/" + b);  // behind strongroom's back
  repo = open();
  repo->load_index();
  EXPECT_EQ(repo->state_diff().missing_index_objects, std::vector<std::string>{b});
}

}  // namespace
}  // namespace sr::repo

#include "ops/keys.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "base/fs.h"
#include "repo/keys_ring.h"
#include "storage/fault_storage.h"
#include "storage/memory_storage.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

class KeysTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mem = std::make_unique<storage::MemoryStorage>("keys", dir_.path());
    repo::Repository::init(*mem, "pw", sr::testing::fast_init_options());
    auto fault = std::make_unique<storage::FaultStorage>(std::move(mem));
    fault_ = fault.get();
    repo_ = repo::Repository::open(std::move(fault), repo::Credential{"pw", false},
                                   repo::RepoOptions{dir_ / "cache"});
  }
  sr::testing::TempDir dir_;
  storage::FaultStorage* fault_ = nullptr;
  std::unique_ptr<repo::Repository> repo_;
  OpContext ctx_;
};

// Regression (issue 10, defect 6): a slot's host and user reached the terminal unfiltered.
TEST_F(KeysTest, ListPrintsNoControlCharactersFromSlots) {
  std::string slot =
      R"({"kdf":"scrypt","created_ns":1,"host":"h\u001b]0;title\u0007","user":"u\u009b2J\r\n"})";
  repo_->storage().put("keys/" + std::string(32, 'f'), as_bytes(slot));
  std::string text = list_keys(*repo_, ctx_).to_json().dump();
  for (char c : {'\x1b', '\x07', '\r', '\n'}) EXPECT_EQ(text.find(c), std::string::npos) << text;
  EXPECT_EQ(text.find("\\u001b"), std::string::npos) << text;
  EXPECT_EQ(text.find("\xc2\x9b"), std::string::npos) << text;
  EXPECT_NE(text.find("h?]0;title?"), std::string::npos) << text;
}

TEST_F(KeysTest, AddPasswordSlotListAndRemove) {
  AddKeyOptions o;
  o.password = "second";
  o.scrypt = {1024, 8, 1};
  AddKeyResult added = add_key(*repo_, o, ctx_);
  EXPECT_EQ(added.to_json(), nlohmann::json({{"id", added.id}}));
  ListKeysResult list = list_keys(*repo_, ctx_);
  ASSERT_EQ(list.slots.size(), 2u);
  nlohmann::json j = list.to_json();
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), 2u);
  for (const auto& s : j) {
    EXPECT_EQ(s.size(), 7u);  // id, created, host, user, current, format, generation
    EXPECT_EQ(s["format"], "ring");
    EXPECT_EQ(s["generation"], 0);
    EXPECT_EQ(s["current"].get<bool>(), s["id"] == repo_->opened_slot());
    EXPECT_TRUE(s["created"].is_string());
  }
  RemoveKeyResult removed = remove_key(*repo_, added.id, ctx_);
  EXPECT_EQ(removed.to_json(), nlohmann::json({{"removed", added.id}}));
  EXPECT_EQ(list_keys(*repo_, ctx_).slots.size(), 1u);
  // Never the last slot, never the one in use.
  EXPECT_THROW(remove_key(*repo_, repo_->opened_slot(), ctx_), Error);
}

TEST_F(KeysTest, NewKeyFileIsPrivateAndNeverOverwritten) {
  AddKeyOptions o;
  o.new_key_file = dir_ / "machine.key";
  AddKeyResult r = add_key(*repo_, o, ctx_);
  EXPECT_EQ(r.to_json(), nlohmann::json({{"id", r.id}, {"key_file", o.new_key_file}}));
  struct stat st;
  ASSERT_EQ(::stat(o.new_key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::string secret;
  std::ifstream(o.new_key_file) >> secret;
  Bytes raw = read_file(o.new_key_file);
  EXPECT_EQ(std::string(raw.begin(), raw.end()), secret + "\n");
  // The JSON names the file, never its content.
  EXPECT_EQ(r.to_json().dump().find(secret), std::string::npos);
  // An existing file is never overwritten.
  try {
    add_key(*repo_, o, ctx_);
    FAIL() << "overwrote a key file";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must not exist yet"), std::string::npos) << e.what();
  }
  EXPECT_EQ(list_keys(*repo_, ctx_).slots.size(), 2u);
}

TEST_F(KeysTest, KeyFileIsRemovedWhenTheSlotCannotBeWritten) {
  fault_->configure({{storage::FaultRule{
      {storage::StorageOp::kPut}, "keys/", storage::FaultRule::Action::kError, Errc::kTransient}}});
  AddKeyOptions o;
  o.new_key_file = dir_ / "never.key";
  EXPECT_THROW(add_key(*repo_, o, ctx_), Error);
  struct stat st;
  EXPECT_NE(::stat(o.new_key_file.c_str(), &st), 0) << "a key file that opens nothing was left";
}

TEST_F(KeysTest, RemoveWithRotateStartsANewGenerationAndListShowsIt) {
  AddKeyOptions o;
  o.password = "second";
  o.scrypt = {1024, 8, 1};
  AddKeyResult added = add_key(*repo_, o, ctx_);
  RemoveKeyResult removed = remove_key(*repo_, added.id, ctx_, true);
  EXPECT_EQ(removed.to_json(), nlohmann::json({{"removed", added.id}, {"generation", 1}}));
  EXPECT_EQ(list_keys(*repo_, ctx_).generation, 1u);
  EXPECT_EQ(list_keys(*repo_, ctx_).to_json()[0]["generation"], 1);
  RotateKeysResult r = rotate_keys(*repo_, ctx_);
  EXPECT_EQ(r.to_json(), nlohmann::json({{"generation", 2}, {"slots", 1}}));
  EXPECT_EQ(upgrade_key(*repo_, ctx_).to_json(),
            nlohmann::json({{"slot", repo_->opened_slot()}, {"upgraded", false}}));
}

TEST_F(KeysTest, ExportWriterWritesAPrivateFileOnceThatOpensWriteOnly) {
  std::string path = dir_ / "writer.key";
  ExportWriterResult r = export_writer(*repo_, path, ctx_);
  EXPECT_EQ(r.to_json(), nlohmann::json({{"writer_key_file", path}, {"generation", 1}}));
  struct stat st;
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  // Never overwritten; a second export reuses the restore key (no new generation).
  EXPECT_THROW(export_writer(*repo_, path, ctx_), Error);
  EXPECT_EQ(export_writer(*repo_, dir_ / "writer2.key", ctx_).generation, 1u);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  repo::KeySet w = repo::parse_writer_file(text, repo_->config().id);
  EXPECT_TRUE(w.write_only);
  ASSERT_EQ(w.generations.size(), 2u);
  for (const auto& g : w.generations) {
    EXPECT_FALSE(g.has_data_key);
    EXPECT_FALSE(g.restore_private);
  }
  EXPECT_EQ(w.newest().restore_public, repo_->keys().newest().restore_public);
  EXPECT_THROW(repo::parse_writer_file(text, std::string(32, '0')), Error);
}

TEST_F(KeysTest, CancelledBeforeStarting) {
  CancelToken token;
  token.cancel();
  OpContext ctx;
  ctx.cancel = &token;
  AddKeyOptions o;
  o.password = "x";
  try {
    add_key(*repo_, o, ctx);
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled);
  }
  EXPECT_EQ(list_keys(*repo_, OpContext{}).slots.size(), 1u);
}

}  // namespace
}  // namespace sr::ops

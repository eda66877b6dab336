#include "repo/lock.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "base/random.h"
#include "repo/envelope.h"
#include "storage/fault_storage.h"
#include "storage/memory_storage.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::repo {
namespace {

using namespace std::chrono_literals;
using storage::FaultRule;
using storage::FaultSettings;
using storage::StorageOp;

class LockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto mem = std::make_unique<storage::MemoryStorage>("locks", dir_.path());
    Repository::init(*mem, "pw", sr::testing::fast_init_options());
    auto fault = std::make_unique<storage::FaultStorage>(std::move(mem));
    fault_ = fault.get();
    repo_ =
        Repository::open(std::move(fault), Credential{"pw", false}, RepoOptions{dir_ / "cache"});
    quick_.stale_after = 50ms;
  }
  // A lock object as another host's strongroom writes it.
  std::string put_foreign(const std::string& holder, uint64_t seq, int64_t time_ns) {
    std::string key = "locks/" + random_hex(16);
    nlohmann::json j = {{"host", "elsewhere"}, {"pid", 1},         {"operation", "backup"},
                        {"exclusive", true},   {"holder", holder}, {"seq", seq},
                        {"time_ns", time_ns}};
    repo_->storage().put(
        key, seal_envelope(repo_->keys(), EnvelopeKind::kLock, key, as_bytes(j.dump())));
    return key;
  }
  static FaultSettings fail(StorageOp op, const std::string& prefix, Errc code) {
    FaultRule rule;
    rule.ops = {op};
    rule.key_prefix = prefix;
    rule.code = code;
    return FaultSettings{{rule}};
  }
  sr::testing::TempDir dir_;
  storage::FaultStorage* fault_ = nullptr;
  std::unique_ptr<Repository> repo_;
  LockTiming quick_;
};

TEST_F(LockTest, AnUnreadableLockIsStaleReportedAndRemovable) {
  std::string garbage = "locks/" + random_hex(16);
  repo_->storage().put(garbage, as_bytes(std::string("not a lock at all")));
  std::vector<std::string> warnings;
  auto logger = log::make_callback_logger(log::Format::kText, log::Level::kWarn,
                                          [&](std::string_view l) { warnings.emplace_back(l); });
  {
    auto lock = RepoLock::acquire(*repo_, "prune", true, logger.get());
    ASSERT_EQ(lock->stale_seen().size(), 1u);
    EXPECT_FALSE(lock->stale_seen()[0].readable);
  }
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_NE(warnings[0].find(garbage), std::string::npos) << warnings[0];
  EXPECT_NE(RepoLock::acquire_for_reading(*repo_, "restore"), nullptr);
  EXPECT_EQ(RepoLock::remove_stale(*repo_), 1u);
  EXPECT_FALSE(repo_->storage().stat(garbage));
}

TEST_F(LockTest, StalenessIsJudgedByTheSequenceOnTheReadersClock) {
  // The holder's clock is far in the future, then far in the past: neither matters.
  int64_t future = std::numeric_limits<int64_t>::max() / 2;
  std::string k1 = put_foreign("h1", 1, future);
  EXPECT_FALSE(RepoLock::list(*repo_, quick_).at(0).stale);
  std::this_thread::sleep_for(100ms);
  // The holder refreshed in between: a new object with the next sequence, the old one removed.
  std::string k2 = put_foreign("h1", 2, 1);
  repo_->storage().remove(k1);
  EXPECT_FALSE(RepoLock::list(*repo_, quick_).at(0).stale);
  EXPECT_THROW(RepoLock::acquire(*repo_, "backup", false, nullptr, quick_), Error);
  std::this_thread::sleep_for(100ms);
  // Seen with the same sequence for longer than the stale interval: stale.
  auto locks = RepoLock::list(*repo_, quick_);
  ASSERT_EQ(locks.size(), 1u);
  EXPECT_TRUE(locks[0].stale);
  EXPECT_NE(RepoLock::acquire(*repo_, "backup", false, nullptr, quick_), nullptr);
  EXPECT_EQ(RepoLock::remove_stale(*repo_, quick_), 1u);
}

TEST_F(LockTest, AHolderWhoseRefreshKeepsFailingStopsItself) {
  LockTiming t;
  t.refresh_every = 10ms;
  t.refresh_attempts = 3;
  auto lock = RepoLock::acquire(*repo_, "backup", false, nullptr, t);
  fault_->configure(fail(StorageOp::kPut, "locks/", Errc::kTransient));
  for (int i = 0; i < 200 && lock->held(); ++i) std::this_thread::sleep_for(10ms);
  EXPECT_FALSE(lock->held());
  fault_->configure({});
  Manifest m;
  m.type = "files";
  try {
    repo_->save_manifest(m);
    FAIL() << "a manifest was published after the lock was lost";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kLocked);
    EXPECT_NE(std::string(e.what()).find("could not be refreshed"), std::string::npos);
  }
}

TEST_F(LockTest, ARefreshingHolderKeepsItsLockAndSequence) {
  LockTiming t;
  t.refresh_every = 10ms;
  auto lock = RepoLock::acquire(*repo_, "backup", false, nullptr, t);
  std::this_thread::sleep_for(100ms);
  EXPECT_TRUE(lock->held());
  auto locks = RepoLock::list(*repo_);
  ASSERT_GE(locks.size(), 1u);
  EXPECT_GT(locks.back().seq, 0u);
}

TEST_F(LockTest, ReadersGoOnUnlockedOnlyOnReadOnlyStorage) {
  fault_->configure(fail(StorageOp::kPut, "locks/", Errc::kAuth));  // read-only credentials
  EXPECT_EQ(RepoLock::acquire_for_reading(*repo_, "restore"), nullptr);
  fault_->configure(fail(StorageOp::kPut, "locks/", Errc::kTransient));  // network trouble
  EXPECT_THROW(RepoLock::acquire_for_reading(*repo_, "restore"), Error);
  fault_->configure(fail(StorageOp::kList, "locks/", Errc::kIo));  // cannot list the locks
  EXPECT_THROW(RepoLock::acquire_for_reading(*repo_, "restore"), Error);
  fault_->configure(fail(StorageOp::kGet, "locks/", Errc::kIo));  // cannot read a lock
  put_foreign("h2", 0, 0);
  EXPECT_THROW(RepoLock::acquire_for_reading(*repo_, "restore"), Error);
}

}  // namespace
}  // namespace sr::repo

namespace sr::repo {
namespace {

TEST(DecodeLock, ReadsCurrentAndOldRecordsAndRejectsOthers) {
  const std::string id(32, 'c');
  LockInfo l = decode_lock(
      id, as_bytes(std::string(R"({"host":"db1","pid":42,"operation":"backup","exclusive":)"
                               R"(false,"time_ns":5,"holder":"h1","seq":7})")));
  EXPECT_EQ(l.id, id);
  EXPECT_EQ(l.holder, "h1");
  EXPECT_EQ(l.seq, 7u);
  EXPECT_EQ(l.pid, 42);
  LockInfo old = decode_lock(
      id, as_bytes(std::string(R"({"host":"h","pid":1,"operation":"prune","exclusive":true,)"
                               R"("time_ns":0})")));
  EXPECT_EQ(old.holder, id);  // older locks are their own holder at sequence 0
  EXPECT_EQ(old.seq, 0u);
  EXPECT_TRUE(old.exclusive);
  for (const char* bad : {"", "[]", "{}", R"({"host":1})",
                          R"({"host":"h","pid":"1","operation":"o","exclusive":true,"time_ns":0})",
                          R"({"host":"h","pid":1,"operation":"o","exclusive":true,"time_ns":0,)"
                          R"("seq":-1})"}) {
    bool threw = false;
    try {
      (void)decode_lock(id, as_bytes(std::string(bad)));
    } catch (const Error&) {
      threw = true;
    } catch (const nlohmann::json::exception&) {
      threw = true;
    }
    EXPECT_TRUE(threw) << bad;
  }
}

}  // namespace
}  // namespace sr::repo

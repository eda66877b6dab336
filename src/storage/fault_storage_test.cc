#include "storage/fault_storage.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>

#include "base/time_util.h"
#include "storage/memory_storage.h"
#include "testing/temp_dir.h"

namespace sr::storage {
namespace {

using Action = FaultRule::Action;

Errc error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.code();
  }
  return Errc::kInternal;  // "no error" (kInternal is never injected below)
}

class FaultStorageTest : public ::testing::Test {
 protected:
  FaultStorageTest() {
    auto m = std::make_unique<MemoryStorage>("inner", dir_.path());
    mem_ = m.get();
    f_ = std::make_unique<FaultStorage>(std::move(m));
    mem_->put("a/1", as_bytes("hello"));
    mem_->put("b/1", as_bytes("world"));
  }
  sr::testing::TempDir dir_;
  MemoryStorage* mem_;
  std::unique_ptr<FaultStorage> f_;
};

TEST_F(FaultStorageTest, PassesEverythingThroughWithoutRules) {
  EXPECT_EQ(f_->get("a/1"), Bytes(as_bytes("hello").begin(), as_bytes("hello").end()));
  f_->put("c/1", as_bytes("x"));
  EXPECT_TRUE(mem_->stat("c/1"));
  EXPECT_EQ(f_->describe(), "memory:inner");
  EXPECT_EQ(f_->calls(StorageOp::kGet), 1u);
  EXPECT_EQ(f_->calls(StorageOp::kPut), 1u);
  EXPECT_EQ(f_->injected(), 0u);
}

TEST_F(FaultStorageTest, ErrorOnChosenOperationAndKeys) {
  f_->configure({{FaultRule{{StorageOp::kGet}, "a/", Action::kError, Errc::kTransient}}});
  EXPECT_EQ(error_of([&] { f_->get("a/1"); }), Errc::kTransient);
  EXPECT_NO_THROW(f_->get("b/1"));   // another prefix
  EXPECT_NO_THROW(f_->stat("a/1"));  // another operation
  EXPECT_EQ(f_->injected(), 1u);
  EXPECT_EQ(f_->calls(StorageOp::kGet), 2u);
  try {
    f_->get("a/1");
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("injected fault: get a/1"), std::string::npos);
  }
}

TEST_F(FaultStorageTest, FailAfterNCallsForMTimes) {
  FaultRule r{{StorageOp::kPut}, "", Action::kError, Errc::kIo};
  r.after = 2;
  r.times = 2;
  f_->configure({{r}});
  EXPECT_NO_THROW(f_->put("p/1", as_bytes("1")));
  EXPECT_NO_THROW(f_->put("p/2", as_bytes("2")));
  EXPECT_EQ(error_of([&] { f_->put("p/3", as_bytes("3")); }), Errc::kIo);
  EXPECT_EQ(error_of([&] { f_->put("p/4", as_bytes("4")); }), Errc::kIo);
  EXPECT_NO_THROW(f_->put("p/5", as_bytes("5")));
  EXPECT_FALSE(mem_->stat("p/3"));  // kError: the call never happened
  EXPECT_TRUE(mem_->stat("p/5"));
  EXPECT_EQ(f_->injected(), 2u);
}

TEST_F(FaultStorageTest, ErrorAfterTheEffectLandsTheObject) {
  f_->configure({{FaultRule{{StorageOp::kPut}, "", Action::kErrorAfter, Errc::kTransient}}});
  EXPECT_EQ(error_of([&] { f_->put("lost/answer", as_bytes("x")); }), Errc::kTransient);
  EXPECT_TRUE(mem_->stat("lost/answer"));
}

TEST_F(FaultStorageTest, ShortReadsDropTheTail) {
  FaultRule r{{}, "a/", Action::kShortRead};
  r.short_by = 2;
  f_->configure({{r}});
  EXPECT_EQ(f_->get("a/1").size(), 3u);
  EXPECT_EQ(f_->get("a/1", 1, 3).size(), 1u);
  EXPECT_EQ(f_->get("b/1").size(), 5u);
  EXPECT_NO_THROW(f_->put("a/2", as_bytes("x")));  // only reads are shortened
  EXPECT_EQ(f_->injected(), 2u);
}

TEST_F(FaultStorageTest, Latency) {
  FaultRule r{{StorageOp::kStat}, "", Action::kLatency};
  r.latency_seconds = 0.2;
  f_->configure({{r}});
  double start = monotonic_seconds();
  EXPECT_TRUE(f_->stat("a/1"));
  EXPECT_GE(monotonic_seconds() - start, 0.19);
  start = monotonic_seconds();
  f_->get("a/1");
  EXPECT_LT(monotonic_seconds() - start, 0.15);
}

TEST_F(FaultStorageTest, ListAndRemoveAndPutFileFaults) {
  f_->configure({{FaultRule{{StorageOp::kList}, "b", Action::kError, Errc::kPermanent},
                  FaultRule{{StorageOp::kRemove}, "", Action::kError, Errc::kLocked},
                  FaultRule{{StorageOp::kPutFile}, "", Action::kError, Errc::kIo}}});
  EXPECT_EQ(error_of([&] { f_->list("b/", [](const ObjectInfo&) {}); }), Errc::kPermanent);
  size_t n = 0;
  f_->list("a/", [&](const ObjectInfo&) { ++n; });
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(error_of([&] { f_->remove("a/1"); }), Errc::kLocked);
  EXPECT_TRUE(mem_->stat("a/1"));
  std::string path = f_->staging_dir() + "/f";
  std::ofstream(path) << "data";
  EXPECT_EQ(error_of([&] { f_->put_file("f/1", path, false); }), Errc::kIo);
  EXPECT_FALSE(std::ifstream(path).good());  // consumed even when it fails
  EXPECT_FALSE(mem_->stat("f/1"));
}

TEST_F(FaultStorageTest, OnlyTheFirstFiringRuleActs) {
  f_->configure({{FaultRule{{}, "a/", Action::kError, Errc::kIo},
                  FaultRule{{}, "", Action::kError, Errc::kPermanent}}});
  EXPECT_EQ(error_of([&] { f_->get("a/1"); }), Errc::kIo);
  EXPECT_EQ(error_of([&] { f_->get("b/1"); }), Errc::kPermanent);
  EXPECT_EQ(f_->injected(), 2u);
}

TEST(MemoryStorage, StagingDirIsPrivateAndRemoved) {
  sr::testing::TempDir dir;
  std::string staging;
  {
    MemoryStorage a("a", dir.path()), b("b", dir.path());
    staging = a.staging_dir();
    EXPECT_EQ(staging.rfind(dir.path(), 0), 0u);
    EXPECT_NE(staging, b.staging_dir());
    EXPECT_EQ(a.staging_dir(), staging);  // stable
    std::ofstream(staging + "/left") << "x";
    a.put("k", as_bytes("12345"));
    EXPECT_EQ(a.object_count(), 1u);
    EXPECT_EQ(a.total_bytes(), 5u);
    EXPECT_FALSE(b.stat("k"));  // separate stores
  }
  EXPECT_FALSE(std::ifstream(staging + "/left").good());
}

TEST(MemoryStorage, ListMayCallBackIntoTheStorage) {
  MemoryStorage s;
  for (int i = 0; i < 5; ++i) s.put("x/" + std::to_string(i), as_bytes("v"));
  s.list("x/", [&](const ObjectInfo& o) { s.remove(o.key); });
  EXPECT_EQ(s.object_count(), 0u);
}

}  // namespace
}  // namespace sr::storage

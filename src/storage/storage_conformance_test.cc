// The Storage contract (storage.h), one typed suite for every backend: local disk, memory, S3
// (s3rver) and Azure Blob (Azurite). The object-store instantiations need their servers
// (testing/object_stores.h) and skip without them; tests/e2e/test_storage_conformance.sh starts
// both and fails on any skip. Settings are small on purpose: 3 objects per listing page (so that
// listing continues across pages) and a 1 MiB multipart threshold with 5 MiB parts (so that a
// large put_file is a multipart upload / a staged block list).
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <thread>

#include "base/error.h"
#include "base/fs.h"
#include "base/random.h"
#include "storage/local_storage.h"
#include "storage/memory_storage.h"
#include "storage/storage.h"
#include "testing/object_stores.h"
#include "testing/temp_dir.h"
#include "testing/test_env.h"

namespace sr::storage {
namespace {

StorageSettings small_settings(const std::string& temp_dir) {
  StorageSettings s;
  s.transfer.list_page_size = 3;
  s.transfer.multipart_threshold = 1 << 20;
  s.transfer.part_size = 5 << 20;
  s.transfer.temp_dir = temp_dir;
  s.http.retry.budget_seconds = 5;
  return s;
}

struct LocalBackend {
  static bool available() { return true; }
  static std::unique_ptr<Storage> make(const sr::testing::TempDir& dir, const std::string& tag) {
    return open_storage(dir / ("local-" + tag), small_settings(dir.path()));
  }
};

struct MemoryBackend {
  static bool available() { return true; }
  static std::unique_ptr<Storage> make(const sr::testing::TempDir& dir, const std::string& tag) {
    return std::make_unique<MemoryStorage>(tag, dir.path());
  }
};

struct S3Backend {
  static bool available() {
    return sr::testing::test_s3_settings(sr::testing::test_env).has_value();
  }
  static std::unique_ptr<Storage> make(const sr::testing::TempDir& dir, const std::string& tag) {
    StorageSettings s = small_settings(dir.path());
    s.s3 = *sr::testing::test_s3_settings(sr::testing::test_env);
    return open_storage(sr::testing::unique_url("s3", tag), s);
  }
};

struct AzureBackend {
  static bool available() {
    return sr::testing::test_azure_settings(sr::testing::test_env).has_value();
  }
  static std::unique_ptr<Storage> make(const sr::testing::TempDir& dir, const std::string& tag) {
    StorageSettings s = small_settings(dir.path());
    s.azure = *sr::testing::test_azure_settings(sr::testing::test_env);
    return open_storage(sr::testing::unique_url("azure", tag), s);
  }
};

template <typename Backend>
class StorageConformance : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!Backend::available()) GTEST_SKIP() << "test server not configured";
    s_ = Backend::make(dir_, "a");
    s_->create_if_missing();
  }
  std::unique_ptr<Storage> other(const std::string& tag) {
    auto s = Backend::make(dir_, tag);
    s->create_if_missing();
    return s;
  }
  // A file of `size` random bytes in the storage's staging directory.
  std::string staged(size_t size, Bytes& content) {
    content = random_bytes(size);
    std::string path = s_->staging_dir() + "/staged-" + random_hex(6);
    std::ofstream(path, std::ios::binary)
        .write(reinterpret_cast<const char*>(content.data()),
               static_cast<std::streamsize>(content.size()));
    return path;
  }
  Errc error_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const Error& e) {
      return e.code();
    }
    ADD_FAILURE() << "no error";
    return Errc::kInternal;
  }

  sr::testing::TempDir dir_;
  std::unique_ptr<Storage> s_;
};

using Backends = ::testing::Types<LocalBackend, MemoryBackend, S3Backend, AzureBackend>;
class BackendNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if (std::is_same_v<T, LocalBackend>) return "Local";
    if (std::is_same_v<T, MemoryBackend>) return "Memory";
    if (std::is_same_v<T, S3Backend>) return "S3";
    return "Azure";
  }
};
TYPED_TEST_SUITE(StorageConformance, Backends, BackendNames);

TYPED_TEST(StorageConformance, PutGetStat) {
  Bytes data = random_bytes(1000);
  this->s_->put("dir/obj", data);
  EXPECT_EQ(this->s_->get("dir/obj"), data);
  auto info = this->s_->stat("dir/obj");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 1000u);
  EXPECT_FALSE(this->s_->stat("dir/other"));
  EXPECT_FALSE(this->s_->stat("dir"));  // no directories
  EXPECT_NE(this->s_->describe(), "");
}

TYPED_TEST(StorageConformance, PutIfAbsent) {
  Bytes first = random_bytes(100), second = random_bytes(100);
  this->s_->put("k/once", first, true);
  if (this->s_->supports_conditional_put()) {
    EXPECT_EQ(this->error_of([&] { this->s_->put("k/once", second, true); }), Errc::kAlreadyExists);
    EXPECT_EQ(this->s_->get("k/once"), first);
  } else {
    // The store may ignore the condition; whatever it did, the object is whole.
    try {
      this->s_->put("k/once", second, true);
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kAlreadyExists);
    }
    Bytes now = this->s_->get("k/once");
    EXPECT_TRUE(now == first || now == second);
  }
}

TYPED_TEST(StorageConformance, RangedGet) {
  Bytes data = random_bytes(5000);
  this->s_->put("r/obj", data);
  auto slice = [&](size_t off, size_t len) {
    return Bytes(data.begin() + static_cast<ptrdiff_t>(off),
                 data.begin() + static_cast<ptrdiff_t>(off + len));
  };
  EXPECT_EQ(this->s_->get("r/obj", 0, 10), slice(0, 10));
  EXPECT_EQ(this->s_->get("r/obj", 1234, 1000), slice(1234, 1000));
  EXPECT_EQ(this->s_->get("r/obj", 4990), slice(4990, 10));  // to the end
  EXPECT_EQ(this->s_->get("r/obj", 4999, 1), slice(4999, 1));
  EXPECT_EQ(this->s_->get("r/obj", 0, 5000), data);
  EXPECT_TRUE(this->s_->get("r/obj", 100, 0).empty());
  // Past the end: an error, never a silently short answer.
  EXPECT_EQ(this->error_of([&] { this->s_->get("r/obj", 4990, 20); }), Errc::kCorrupt);
  EXPECT_EQ(this->error_of([&] { this->s_->get("r/obj", 6000, 1); }), Errc::kCorrupt);
}

TYPED_TEST(StorageConformance, MissingObjects) {
  EXPECT_EQ(this->error_of([&] { this->s_->get("nope/x"); }), Errc::kNotFound);
  EXPECT_EQ(this->error_of([&] { this->s_->get("nope/x", 10, 5); }), Errc::kNotFound);
  EXPECT_FALSE(get_if_exists(*this->s_, "nope/x"));
  EXPECT_FALSE(this->s_->stat("nope/x"));
}

TYPED_TEST(StorageConformance, ListPagesAndPrefixes) {
  std::map<std::string, uint64_t> want;
  for (int i = 0; i < 10; ++i) {  // more than three pages of three
    std::string key = "p/" + std::to_string(i) + "/obj";
    this->s_->put(key, random_bytes(static_cast<size_t>(i * 7)));
    want[key] = static_cast<uint64_t>(i * 7);
  }
  this->s_->put("p2/x", random_bytes(3));
  this->s_->put("q/y", random_bytes(3));
  std::map<std::string, uint64_t> got;
  this->s_->list("p/", [&](const ObjectInfo& o) {
    EXPECT_TRUE(got.emplace(o.key, o.size).second) << "listed twice: " << o.key;
  });
  EXPECT_EQ(got, want);
  std::set<std::string> under_p;
  this->s_->list("p", [&](const ObjectInfo& o) { under_p.insert(o.key); });
  EXPECT_EQ(under_p.size(), 11u);  // "p" is a key prefix, not a directory: p2/x too
  std::set<std::string> all;
  this->s_->list("", [&](const ObjectInfo& o) { all.insert(o.key); });
  EXPECT_EQ(all.size(), 12u);
  std::set<std::string> none;
  this->s_->list("zz/", [&](const ObjectInfo& o) { none.insert(o.key); });
  EXPECT_TRUE(none.empty());
  // Another location (another prefix in the same bucket or container) sees none of them.
  auto b = this->other("b");
  size_t seen = 0;
  b->list("", [&](const ObjectInfo&) { ++seen; });
  EXPECT_EQ(seen, 0u);
  EXPECT_FALSE(b->stat("q/y"));
}

TYPED_TEST(StorageConformance, Remove) {
  this->s_->put("d/x", random_bytes(10));
  this->s_->remove("d/x");
  EXPECT_FALSE(this->s_->stat("d/x"));
  EXPECT_EQ(this->error_of([&] { this->s_->get("d/x"); }), Errc::kNotFound);
  EXPECT_NO_THROW(this->s_->remove("d/x"));  // a missing key is fine
  EXPECT_NO_THROW(this->s_->remove("never/there"));
  size_t seen = 0;
  this->s_->list("d/", [&](const ObjectInfo&) { ++seen; });
  EXPECT_EQ(seen, 0u);
}

TYPED_TEST(StorageConformance, LargeObjectThroughPutFile) {
  Bytes content;
  const size_t size = (11 << 20) + 12345;  // three parts of 5 MiB, the last one short
  std::string path = this->staged(size, content);
  this->s_->put_file("big/obj", path, true);
  EXPECT_FALSE(std::ifstream(path).good()) << "put_file must consume its input";
  auto info = this->s_->stat("big/obj");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, size);
  EXPECT_EQ(this->s_->get("big/obj"), content);
  // A range across the first part boundary.
  const uint64_t off = (5 << 20) - 100;
  Bytes mid = this->s_->get("big/obj", off, 200);
  EXPECT_EQ(mid, Bytes(content.begin() + static_cast<ptrdiff_t>(off),
                       content.begin() + static_cast<ptrdiff_t>(off + 200)));
}

TYPED_TEST(StorageConformance, SmallPutFile) {
  Bytes content;
  std::string path = this->staged(4096, content);
  this->s_->put_file("small/obj", path, false);
  EXPECT_FALSE(std::ifstream(path).good());
  EXPECT_EQ(this->s_->get("small/obj"), content);
}

TYPED_TEST(StorageConformance, EmptyObjects) {
  this->s_->put("e/empty", ByteSpan());
  EXPECT_TRUE(this->s_->get("e/empty").empty());
  auto info = this->s_->stat("e/empty");
  ASSERT_TRUE(info);
  EXPECT_EQ(info->size, 0u);
  Bytes none;
  std::string path = this->staged(0, none);
  this->s_->put_file("e/empty-file", path, true);
  EXPECT_TRUE(this->s_->get("e/empty-file").empty());
  std::map<std::string, uint64_t> got;
  this->s_->list("e/", [&](const ObjectInfo& o) { got[o.key] = o.size; });
  EXPECT_EQ(got, (std::map<std::string, uint64_t>{{"e/empty", 0}, {"e/empty-file", 0}}));
}

TYPED_TEST(StorageConformance, ConcurrentPutsAndGets) {
  std::vector<Bytes> data(8);
  for (auto& d : data) d = random_bytes(20000);
  {
    std::vector<std::jthread> threads;
    for (size_t t = 0; t < data.size(); ++t)
      threads.emplace_back([&, t] {
        this->s_->put("c/" + std::to_string(t), data[t], true);
        EXPECT_EQ(this->s_->get("c/" + std::to_string(t)), data[t]);
      });
  }
  size_t seen = 0;
  this->s_->list("c/", [&](const ObjectInfo&) { ++seen; });
  EXPECT_EQ(seen, data.size());
}

}  // namespace
}  // namespace sr::storage

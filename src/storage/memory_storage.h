// storage/memory_storage.h: the Storage contract in memory, for tests and for tools that need a
// scratch repository.
//
// Objects live in a map guarded by one mutex; put publishes atomically (readers see the whole
// object or nothing), if_absent is honoured (Errc::kAlreadyExists), get serves ranges with the
// same rules as the other backends (a range past the end is Errc::kCorrupt, a missing key
// Errc::kNotFound), list visits a snapshot taken under the lock (so `visit` may call back into
// the storage), and put_file reads and then removes its input file (consumed, as the contract
// says). staging_dir() is a private directory (mkdtemp below `temp_dir`), created on first use
// and removed with its contents when the storage is destroyed. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <mutex>

#include "storage/storage.h"

namespace sr::storage {

class MemoryStorage final : public Storage {
 public:
  // `name` appears in describe() ("memory:<name>").
  explicit MemoryStorage(std::string name = "default", std::string temp_dir = "/tmp");
  ~MemoryStorage() override;
  MemoryStorage(const MemoryStorage&) = delete;
  MemoryStorage& operator=(const MemoryStorage&) = delete;

  std::string describe() const override { return "memory:" + name_; }
  bool supports_conditional_put() const override { return true; }
  // (The defaults repeat Storage's, for calls through this type.)
  void put(const std::string& key, ByteSpan data, bool if_absent = false) override;
  void put_file(const std::string& key, const std::string& path, bool if_absent = false) override;
  Bytes get(const std::string& key, uint64_t offset = 0,
            std::optional<uint64_t> length = std::nullopt) override;
  std::optional<ObjectInfo> stat(const std::string& key) override;
  void list(const std::string& prefix,
            const std::function<void(const ObjectInfo&)>& visit) override;
  void remove(const std::string& key) override;
  std::string staging_dir() override;

  size_t object_count() const;
  uint64_t total_bytes() const;

 private:
  std::string name_;
  std::string temp_dir_;
  mutable std::mutex mu_;
  std::map<std::string, std::shared_ptr<const Bytes>> objects_;
  std::once_flag staging_once_;
  std::string staging_;
};

}  // namespace sr::storage

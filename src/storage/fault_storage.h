// storage/fault_storage.h: a Storage decorator that injects faults, for tests of everything that
// sits on storage (the repository, replication, the WAL store, retries above them).
//
// A FaultStorage forwards every call to the storage it wraps unless a FaultRule matches the call:
// rules are checked in order; a rule matches an operation it lists (every operation when its list
// is empty) on a key starting with key_prefix (list() matches on its prefix argument). A matching
// rule lets its first `after` matching calls through ("fail after N calls"), then fires on the
// next `times` matching calls (0: on all of them), with one of these actions:
//   kError        throw Error(code) instead of doing the call
//   kErrorAfter   do the call, then throw Error(code) (the effect landed, the answer was lost)
//   kShortRead    get() returns its answer without the last short_by bytes (at least one byte
//                 shorter, empty at most): a backend that breaks the contract
//   kLatency      sleep latency_seconds, then do the call
// Only the first rule that fires acts on a call. Everything is deterministic (counters, no
// randomness); calls() counts the calls per operation and injected() the faults. Thread-safe:
// rule state is kept under a mutex; the wrapped storage is called outside it.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <vector>

#include "base/error.h"
#include "storage/storage.h"

namespace sr::storage {

enum class StorageOp { kPut = 0, kPutFile, kGet, kStat, kList, kRemove, kCreate };
constexpr size_t kStorageOps = 7;
const char* storage_op_name(StorageOp op);

struct FaultRule {
  enum class Action { kError, kErrorAfter, kShortRead, kLatency };
  std::vector<StorageOp> ops;  // empty: every operation
  std::string key_prefix;      // "" : every key
  Action action = Action::kError;
  Errc code = Errc::kTransient;
  uint64_t after = 0;  // matching calls let through before the rule fires
  uint64_t times = 0;  // how many calls it fires on; 0: every one after `after`
  uint64_t short_by = 1;
  double latency_seconds = 0;
};

struct FaultSettings {
  std::vector<FaultRule> rules;
};

class FaultStorage final : public Storage {
 public:
  FaultStorage(std::unique_ptr<Storage> inner, FaultSettings settings = {});
  // Replaces the rules (and restarts their counters); calls() keeps counting.
  void configure(FaultSettings settings);
  Storage& inner() { return *inner_; }

  uint64_t calls(StorageOp op) const { return calls_[static_cast<size_t>(op)].load(); }
  uint64_t total_calls() const;
  uint64_t injected() const { return injected_.load(); }

  std::string describe() const override { return inner_->describe(); }
  bool supports_conditional_put() const override { return inner_->supports_conditional_put(); }
  // (The defaults repeat Storage's, for calls through this type.)
  void put(const std::string& key, ByteSpan data, bool if_absent = false) override;
  void put_file(const std::string& key, const std::string& path, bool if_absent = false) override;
  Bytes get(const std::string& key, uint64_t offset = 0,
            std::optional<uint64_t> length = std::nullopt) override;
  std::optional<ObjectInfo> stat(const std::string& key) override;
  void list(const std::string& prefix,
            const std::function<void(const ObjectInfo&)>& visit) override;
  void remove(const std::string& key) override;
  std::string staging_dir() override { return inner_->staging_dir(); }
  void create_if_missing() override;

 private:
  // Counts the call and returns the rule that fires on it (a copy), if any.
  std::optional<FaultRule> fire(StorageOp op, const std::string& key);
  // Applies the part of `rule` that acts before the call (kError throws, kLatency sleeps).
  void before(const std::optional<FaultRule>& rule, StorageOp op, const std::string& key);
  void after(const std::optional<FaultRule>& rule, StorageOp op, const std::string& key);

  std::unique_ptr<Storage> inner_;
  std::mutex mu_;
  FaultSettings settings_;
  std::vector<uint64_t> matched_;  // per rule: matching calls seen
  std::vector<uint64_t> fired_;    // per rule: calls it fired on
  std::array<std::atomic<uint64_t>, kStorageOps> calls_{};
  std::atomic<uint64_t> injected_{0};
};

}  // namespace sr::storage

#include "storage/fault_storage.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>

namespace sr::storage {

const char* storage_op_name(StorageOp op) {
  switch (op) {
    case StorageOp::kPut:
      return "put";
    case StorageOp::kPutFile:
      return "put_file";
    case StorageOp::kGet:
      return "get";
    case StorageOp::kStat:
      return "stat";
    case StorageOp::kList:
      return "list";
    case StorageOp::kRemove:
      return "remove";
    case StorageOp::kCreate:
      return "create";
  }
  return "call";
}

FaultStorage::FaultStorage(std::unique_ptr<Storage> inner, FaultSettings settings)
    : inner_(std::move(inner)) {
  if (!inner_) throw Error(Errc::kInternal, "FaultStorage without a storage");
  configure(std::move(settings));
}

void FaultStorage::configure(FaultSettings settings) {
  std::lock_guard lock(mu_);
  settings_ = std::move(settings);
  matched_.assign(settings_.rules.size(), 0);
  fired_.assign(settings_.rules.size(), 0);
}

uint64_t FaultStorage::total_calls() const {
  uint64_t n = 0;
  for (const auto& c : calls_) n += c.load();
  return n;
}

std::optional<FaultRule> FaultStorage::fire(StorageOp op, const std::string& key) {
  ++calls_[static_cast<size_t>(op)];
  std::lock_guard lock(mu_);
  std::optional<FaultRule> out;
  for (size_t i = 0; i < settings_.rules.size(); ++i) {
    const FaultRule& r = settings_.rules[i];
    if (!r.ops.empty() && std::find(r.ops.begin(), r.ops.end(), op) == r.ops.end()) continue;
    if (key.compare(0, r.key_prefix.size(), r.key_prefix) != 0) continue;
    if (++matched_[i] <= r.after) continue;
    if (r.times != 0 && fired_[i] >= r.times) continue;
    if (r.action == FaultRule::Action::kShortRead && op != StorageOp::kGet) continue;
    if (out) continue;  // counted, but only the first firing rule acts
    ++fired_[i];
    out = r;
  }
  if (out) ++injected_;
  return out;
}

void FaultStorage::before(const std::optional<FaultRule>& rule, StorageOp op,
                          const std::string& key) {
  if (!rule) return;
  if (rule->action == FaultRule::Action::kLatency)
    std::this_thread::sleep_for(std::chrono::duration<double>(rule->latency_seconds));
  if (rule->action == FaultRule::Action::kError)
    throw Error(rule->code, describe() + ": injected fault: " + storage_op_name(op) + " " + key);
}

void FaultStorage::after(const std::optional<FaultRule>& rule, StorageOp op,
                         const std::string& key) {
  if (rule && rule->action == FaultRule::Action::kErrorAfter)
    throw Error(rule->code, describe() + ": injected fault after " + storage_op_name(op) + " " +
                                key + " took effect");
}

void FaultStorage::put(const std::string& key, ByteSpan data, bool if_absent) {
  auto rule = fire(StorageOp::kPut, key);
  before(rule, StorageOp::kPut, key);
  inner_->put(key, data, if_absent);
  after(rule, StorageOp::kPut, key);
}

void FaultStorage::put_file(const std::string& key, const std::string& path, bool if_absent) {
  auto rule = fire(StorageOp::kPutFile, key);
  if (rule && rule->action == FaultRule::Action::kError) ::unlink(path.c_str());  // consumed
  before(rule, StorageOp::kPutFile, key);
  inner_->put_file(key, path, if_absent);
  after(rule, StorageOp::kPutFile, key);
}

Bytes FaultStorage::get(const std::string& key, uint64_t offset, std::optional<uint64_t> length) {
  auto rule = fire(StorageOp::kGet, key);
  before(rule, StorageOp::kGet, key);
  Bytes out = inner_->get(key, offset, length);
  after(rule, StorageOp::kGet, key);
  if (rule && rule->action == FaultRule::Action::kShortRead)
    out.resize(out.size() - std::min<uint64_t>(out.size(), std::max<uint64_t>(1, rule->short_by)));
  return out;
}

std::optional<ObjectInfo> FaultStorage::stat(const std::string& key) {
  auto rule = fire(StorageOp::kStat, key);
  before(rule, StorageOp::kStat, key);
  auto out = inner_->stat(key);
  after(rule, StorageOp::kStat, key);
  return out;
}

void FaultStorage::list(const std::string& prefix,
                        const std::function<void(const ObjectInfo&)>& visit) {
  auto rule = fire(StorageOp::kList, prefix);
  before(rule, StorageOp::kList, prefix);
  inner_->list(prefix, visit);
  after(rule, StorageOp::kList, prefix);
}

void FaultStorage::remove(const std::string& key) {
  auto rule = fire(StorageOp::kRemove, key);
  before(rule, StorageOp::kRemove, key);
  inner_->remove(key);
  after(rule, StorageOp::kRemove, key);
}

void FaultStorage::create_if_missing() {
  auto rule = fire(StorageOp::kCreate, "");
  before(rule, StorageOp::kCreate, "");
  inner_->create_if_missing();
  after(rule, StorageOp::kCreate, "");
}

}  // namespace sr::storage

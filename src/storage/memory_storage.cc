#include "storage/memory_storage.h"

#include <stdlib.h>
#include <unistd.h>

#include <filesystem>

#include "base/error.h"
#include "base/fs.h"

namespace sr::storage {

MemoryStorage::MemoryStorage(std::string name, std::string temp_dir)
    : name_(std::move(name)), temp_dir_(temp_dir.empty() ? "/tmp" : std::move(temp_dir)) {}

MemoryStorage::~MemoryStorage() {
  if (!staging_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(staging_, ec);
  }
}

void MemoryStorage::put(const std::string& key, ByteSpan data, bool if_absent) {
  if (key.empty()) throw Error(Errc::kInternal, "invalid storage key ''");
  auto object = std::make_shared<const Bytes>(data.begin(), data.end());
  std::lock_guard lock(mu_);
  auto [it, inserted] = objects_.try_emplace(key, object);
  if (!inserted) {
    if (if_absent) throw Error(Errc::kAlreadyExists, describe() + ": " + key + " already exists");
    it->second = std::move(object);
  }
}

void MemoryStorage::put_file(const std::string& key, const std::string& path, bool if_absent) {
  Bytes data = read_file(path);
  ::unlink(path.c_str());  // consumed, whatever happens next
  put(key, data, if_absent);
}

Bytes MemoryStorage::get(const std::string& key, uint64_t offset, std::optional<uint64_t> length) {
  std::shared_ptr<const Bytes> object;
  {
    std::lock_guard lock(mu_);
    auto it = objects_.find(key);
    if (it == objects_.end())
      throw Error(Errc::kNotFound, describe() + ": " + key + " does not exist");
    object = it->second;
  }
  const uint64_t size = object->size();
  if (offset > size || (length && *length > size - offset))
    throw Error(Errc::kCorrupt, describe() + ": " + key + " is shorter than expected (" +
                                    std::to_string(size) + " bytes)");
  uint64_t n = length ? *length : size - offset;
  auto first = object->begin() + static_cast<ptrdiff_t>(offset);
  return Bytes(first, first + static_cast<ptrdiff_t>(n));
}

std::optional<ObjectInfo> MemoryStorage::stat(const std::string& key) {
  std::lock_guard lock(mu_);
  auto it = objects_.find(key);
  if (it == objects_.end()) return std::nullopt;
  return ObjectInfo{key, it->second->size()};
}

void MemoryStorage::list(const std::string& prefix,
                         const std::function<void(const ObjectInfo&)>& visit) {
  std::vector<ObjectInfo> snapshot;
  {
    std::lock_guard lock(mu_);
    for (auto it = objects_.lower_bound(prefix);
         it != objects_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
      snapshot.push_back({it->first, it->second->size()});
  }
  for (const auto& o : snapshot) visit(o);
}

void MemoryStorage::remove(const std::string& key) {
  std::lock_guard lock(mu_);
  objects_.erase(key);
}

std::string MemoryStorage::staging_dir() {
  std::call_once(staging_once_, [this] {
    mkdirs(temp_dir_, 0700);
    std::string tmpl = temp_dir_ + "/strongroom-memory-XXXXXX";
    if (!::mkdtemp(tmpl.data())) throw_errno("cannot create a staging directory in " + temp_dir_);
    staging_ = tmpl;
  });
  return staging_;
}

size_t MemoryStorage::object_count() const {
  std::lock_guard lock(mu_);
  return objects_.size();
}

uint64_t MemoryStorage::total_bytes() const {
  std::lock_guard lock(mu_);
  uint64_t n = 0;
  for (const auto& [key, object] : objects_) n += object->size();
  return n;
}

}  // namespace sr::storage

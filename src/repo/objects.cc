#include "repo/objects.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/bytes.h"
#include "base/error.h"

namespace sr::repo {

const char* object_kind_name(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kConfig:
      return "config";
    case ObjectKind::kKeySlot:
      return "key slot";
    case ObjectKind::kPack:
      return "pack";
    case ObjectKind::kWal:
      return "WAL object";
    case ObjectKind::kPgInfo:
      return "cluster info";
    case ObjectKind::kIndex:
      return "index object";
    case ObjectKind::kMark:
      return "mark";
    case ObjectKind::kManifest:
      return "manifest";
    case ObjectKind::kLock:
      return "lock";
    case ObjectKind::kHold:
      return "hold";
    case ObjectKind::kDeletion:
      return "deletion record";
    case ObjectKind::kPrunePlan:
      return "prune plan";
    case ObjectKind::kRestoreTest:
      return "restore test";
  }
  return "object";
}

std::string object_prefix(ObjectKind kind) {
  switch (kind) {
    case ObjectKind::kConfig:
      return "config";
    case ObjectKind::kKeySlot:
      return "keys/";
    case ObjectKind::kPack:
      return "data/";
    case ObjectKind::kWal:
      return "wal/";
    case ObjectKind::kPgInfo:
      return "pg/";
    case ObjectKind::kIndex:
      return "index/";
    case ObjectKind::kMark:
      return "marks/";
    case ObjectKind::kManifest:
      return "manifests/";
    case ObjectKind::kLock:
      return "locks/";
    case ObjectKind::kHold:
      return "holds/";
    case ObjectKind::kDeletion:
      return "deletions/";
    case ObjectKind::kPrunePlan:
      return "prune/";
    case ObjectKind::kRestoreTest:
      return "tests/";
  }
  throw Error(Errc::kInternal, "unknown object kind");
}

std::string ObjectRef::name() const {
  auto slash = key.rfind('/');
  return slash == std::string::npos ? key : key.substr(slash + 1);
}

bool is_staging_object(const std::string& key) {
  if (key.rfind("tmp/", 0) == 0) return true;
  auto slash = key.rfind('/');
  std::string base = slash == std::string::npos ? key : key.substr(slash + 1);
  return base.rfind(".tmp-", 0) == 0;
}

std::optional<ObjectKind> object_kind_of(const std::string& key) {
  if (key == "config") return ObjectKind::kConfig;
  for (ObjectKind k :
       {ObjectKind::kKeySlot, ObjectKind::kPack, ObjectKind::kWal, ObjectKind::kPgInfo,
        ObjectKind::kIndex, ObjectKind::kMark, ObjectKind::kManifest, ObjectKind::kLock,
        ObjectKind::kHold, ObjectKind::kDeletion, ObjectKind::kPrunePlan, ObjectKind::kRestoreTest})
    if (key.rfind(object_prefix(k), 0) == 0) return k;
  return std::nullopt;
}

std::vector<ObjectRef> list_objects(storage::Storage& storage, ObjectKind kind) {
  std::vector<ObjectRef> out;
  if (kind == ObjectKind::kConfig) {
    if (auto info = storage.stat("config")) out.push_back({kind, "config", info->size});
    return out;
  }
  storage.list(object_prefix(kind), [&](const storage::ObjectInfo& o) {
    if (!is_staging_object(o.key)) out.push_back({kind, o.key, o.size});
  });
  std::sort(out.begin(), out.end(),
            [](const ObjectRef& a, const ObjectRef& b) { return a.key < b.key; });
  return out;
}

std::optional<std::string> stored_repository_id(storage::Storage& storage) {
  auto raw = storage::get_if_exists(storage, "config");
  if (!raw) return std::nullopt;
  auto j = nlohmann::json::parse(as_chars(*raw), nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string())
    throw Error(Errc::kCorrupt, storage.describe() + ": config is not a strongroom config");
  return j["id"].get<std::string>();
}

std::string manifest_key(const std::string& id) { return "manifests/" + id; }

std::string mark_key(const std::string& stanza, const std::string& name) {
  return "marks/" + stanza + "/" + to_hex(as_bytes(name));
}

std::string key_slot_key(const std::string& id) { return "keys/" + id; }

std::string hold_key(const std::string& backup_id) { return "holds/" + backup_id; }

}  // namespace sr::repo

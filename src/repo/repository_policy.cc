// The Repository's objects for retention: holds and deletion records, and removing manifests.
#include <unistd.h>

#include <algorithm>

#include "base/random.h"
#include "base/time_util.h"
#include "repo/envelope.h"
#include "repo/repository.h"

namespace sr::repo {

using nlohmann::json;

namespace {

bool valid_backup_id(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

json open_json_envelope(const KeySet& keys, EnvelopeKind kind, const std::string& key,
                        ByteSpan raw) {
  Bytes payload = open_envelope(keys, kind, key, raw);
  json j = json::parse(as_chars(payload), nullptr, false);
  if (!j.is_object()) throw Error(Errc::kCorrupt, key + " is damaged (not a JSON object)");
  return j;
}

std::string this_host() {
  char buf[256] = {};
  ::gethostname(buf, sizeof buf - 1);
  return buf;
}

}  // namespace

void Repository::save_hold(const std::string& backup_id, const json& record) {
  if (!valid_backup_id(backup_id)) throw Error(Errc::kUsage, "not a backup id: " + backup_id);
  std::string key = hold_key(backup_id);
  storage_->put(key, seal_envelope(keys_, EnvelopeKind::kHold, key, as_bytes(record.dump())));
}

bool Repository::remove_hold(const std::string& backup_id) {
  if (!valid_backup_id(backup_id)) throw Error(Errc::kUsage, "not a backup id: " + backup_id);
  std::string key = hold_key(backup_id);
  if (!storage_->stat(key)) return false;
  storage_->remove(key);
  return true;
}

Repository::Holds Repository::list_holds() {
  Holds out;
  for (const auto& o : list_objects(ObjectKind::kHold)) {
    std::string id = o.name();
    try {
      json j = open_json_envelope(keys_, EnvelopeKind::kHold, o.key, storage_->get(o.key));
      if (!valid_backup_id(id)) throw Error(Errc::kCorrupt, o.key + " does not name a backup");
      out.holds[id] = j;
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt) throw;
      out.damaged[id] = e.what();
    }
  }
  return out;
}

std::string Repository::record_deletion(const std::string& operation,
                                        const std::vector<std::string>& manifests,
                                        const std::vector<std::string>& index_objects) {
  std::string name = random_hex(32);
  std::string key = object_prefix(ObjectKind::kDeletion) + name;
  json j = {{"operation", operation}, {"host", this_host()},
            {"time_ns", now_ns()},    {"time", format_rfc3339(now_ns())},
            {"manifests", manifests}, {"index_objects", index_objects}};
  storage_->put(key, seal_envelope(keys_, EnvelopeKind::kDeletion, key, as_bytes(j.dump())), true);
  return name;
}

Repository::DeletionRecords Repository::load_deletions() {
  DeletionRecords out;
  for (const auto& o : list_objects(ObjectKind::kDeletion)) {
    try {
      json j = open_json_envelope(keys_, EnvelopeKind::kDeletion, o.key, storage_->get(o.key));
      for (const char* field : {"manifests", "index_objects"}) {
        if (!j.contains(field) || !j[field].is_array())
          throw Error(Errc::kCorrupt, o.key + " is damaged (no " + field + " list)");
        auto& into = std::string(field) == "manifests" ? out.manifests : out.index_objects;
        for (const auto& n : j[field])
          if (n.is_string()) into.insert(n.get<std::string>());
      }
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt) throw;
      out.damaged.push_back(o.name());
    }
  }
  return out;
}

void Repository::remove_manifest(const std::string& id) {
  check_lock_held();
  if (!valid_backup_id(id)) throw Error(Errc::kUsage, "not a backup id: " + id);
  storage_->remove(manifest_key(id));
  std::lock_guard guard(state_mu_);
  ClientStateFile file = state_file();
  if (file.path().empty()) return;
  auto loaded = file.load();
  bool changed = loaded.state.manifests.erase(id) != 0;
  for (auto it = loaded.state.series.begin(); it != loaded.state.series.end();) {
    if (it->second.manifest_id == id) {
      it = loaded.state.series.erase(it);  // the next listing records the series' new head
      changed = true;
    } else {
      ++it;
    }
  }
  if (changed) file.save(loaded.state);
}

std::string Repository::save_prune_plan(const json& plan) {
  std::string name = random_hex(32);
  std::string key = object_prefix(ObjectKind::kPrunePlan) + name;
  storage_->put(key, seal_envelope(keys_, EnvelopeKind::kPrunePlan, key, as_bytes(plan.dump())),
                true);
  return name;
}

std::vector<std::pair<std::string, json>> Repository::list_prune_plans() {
  std::vector<std::pair<std::string, json>> out;
  for (const auto& o : list_objects(ObjectKind::kPrunePlan)) {
    try {
      out.emplace_back(o.name(), open_json_envelope(keys_, EnvelopeKind::kPrunePlan, o.key,
                                                    storage_->get(o.key)));
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt) throw;
      if (options_.log)
        options_.log->warn("prune", "ignoring a damaged prune plan: " + std::string(e.what()));
    }
  }
  return out;
}

void Repository::remove_prune_plan(const std::string& name) {
  storage_->remove(object_prefix(ObjectKind::kPrunePlan) + name);
}

void Repository::remove_pack(const std::string& name) {
  check_lock_held();
  storage_->remove(pack_object_key(name));
}

std::vector<storage::ObjectInfo> Repository::list_staging() {
  std::vector<storage::ObjectInfo> out;
  storage_->list("tmp/", [&](const storage::ObjectInfo& o) { out.push_back(o); });
  return out;
}

void Repository::remove_staging(const std::string& key) {
  check_lock_held();
  if (!is_staging_object(key)) throw Error(Errc::kInternal, key + " is not a staging file");
  storage_->remove(key);
}

std::string Repository::save_restore_test(const json& result) {
  std::string name = random_hex(32);
  std::string key = object_prefix(ObjectKind::kRestoreTest) + name;
  storage_->put(key, seal_envelope(keys_, EnvelopeKind::kRestoreTest, key, as_bytes(result.dump())),
                true);
  return name;
}

std::vector<json> Repository::list_restore_tests() {
  std::vector<json> out;
  for (const auto& o : list_objects(ObjectKind::kRestoreTest)) {
    try {
      json j = open_json_envelope(keys_, EnvelopeKind::kRestoreTest, o.key, storage_->get(o.key));
      j["id"] = o.name();
      out.push_back(std::move(j));
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt) throw;
      if (options_.log)
        options_.log->warn("restore-test", "skipping a damaged result: " + std::string(e.what()));
    }
  }
  std::stable_sort(out.begin(), out.end(), [](const json& a, const json& b) {
    return a.value("started_ns", int64_t{0}) < b.value("started_ns", int64_t{0});
  });
  return out;
}

}  // namespace sr::repo

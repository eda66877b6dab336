// The Repository's rollback detection (the signed client state), missing packs, and the
// primitives of `repair index`. (repository.cc holds chunks, packs, indexes and manifests.)
#include <algorithm>

#include "base/fs.h"
#include "base/random.h"
#include "repo/envelope.h"
#include "repo/index_file.h"
#include "repo/repository.h"

namespace sr::repo {

ClientStateFile Repository::state_file() const {
  // Keyed by the chunk-id key: the one secret every credential holds (writer keys too) and that
  // rotation keeps, so the state stays valid across key generations.
  codec::Key32 key = codec::hmac_sha256(keys_.id_key, as_bytes("strongroom client state v1"));
  std::string path;
  if (!options_.cache_dir.empty()) {
    // One state per location: a replica has the same repository id but may lag behind its
    // source, which is no rollback.
    std::string where =
        to_hex(codec::hmac_sha256(key, as_bytes(storage_->describe()))).substr(0, 16);
    try {
      mkdirs(options_.cache_dir + "/" + config_.id, 0700);
      path = options_.cache_dir + "/" + config_.id + "/state-" + where + ".json";
    } catch (const Error&) {
      path = "";  // no writable cache: no state (as with a temporary index cache)
    }
  }
  return ClientStateFile(path, key, config_.id);
}

void Repository::observe_state(const std::vector<std::string>* manifest_ids,
                               const std::vector<Manifest>* readable,
                               const std::vector<std::string>* index_names) {
  std::lock_guard guard(state_mu_);
  ClientStateFile file = state_file();
  if (file.path().empty()) return;
  auto loaded = file.load();
  auto warn = [&](const std::string& msg) {
    if (options_.log && state_warned_.insert(msg).second) options_.log->warn("repository", msg);
  };
  if (!loaded.warning.empty()) warn(loaded.warning);
  StateDiff d = diff_state(loaded.state, manifest_ids, readable, index_names);
  bool forgot = false;
  if (d.any()) {
    forgot = true;
    // What strongroom itself deleted (expire, prune) is named in deletion records: forget it.
    DeletionRecords deleted = load_deletions();
    ClientState& st = loaded.state;
    for (const auto& id : deleted.manifests) st.manifests.erase(id);
    for (const auto& name : deleted.index_objects) st.index_objects.erase(name);
    std::erase_if(st.series, [&](const auto& kv) {
      return deleted.manifests.count(kv.second.manifest_id) != 0;
    });
    d = diff_state(st, manifest_ids, readable, index_names);
  }
  if (manifest_ids) {
    state_diff_.missing_manifests = d.missing_manifests;
    state_diff_.rolled_back_series = d.rolled_back_series;
  }
  if (index_names) state_diff_.missing_index_objects = d.missing_index_objects;
  for (const auto& m : d.messages())
    warn("the repository went backwards: " + m +
         ". Deleted by someone other than strongroom? Run `strongroom verify`; once explained, "
         "`strongroom verify --accept-state` accepts the repository as it is now");
  ClientState next = loaded.state;
  if (manifest_ids)
    next.add_manifests(*manifest_ids, readable ? *readable : std::vector<Manifest>{});
  if (index_names) next.index_objects.insert(index_names->begin(), index_names->end());
  if (forgot || !(next == loaded.state) || !loaded.warning.empty()) file.save(next);
}

void Repository::accept_state() {
  std::vector<std::string> ids = list_manifest_ids();
  std::vector<Manifest> readable;
  for (const auto& id : ids) {
    try {
      readable.push_back(load_manifest(id));
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt) throw;
    }
  }
  std::vector<std::string> index_names;
  for (const auto& o : list_objects(ObjectKind::kIndex)) index_names.push_back(o.name());
  ClientState state;
  state.add_manifests(ids, readable);
  state.index_objects.insert(index_names.begin(), index_names.end());
  std::lock_guard guard(state_mu_);
  state_file().save(state);
  state_diff_ = StateDiff{};
}

void Repository::flag_missing_packs() {
  std::set<std::string> present;
  for (const auto& o : list_objects(ObjectKind::kPack)) present.insert(o.name());
  std::set<std::string> missing;
  index().for_each_pack([&](const std::string& name, uint64_t) {
    if (!present.count(name)) missing.insert(name);
  });
  index().set_missing_packs(missing);
  missing_packs_.assign(missing.begin(), missing.end());
}

std::optional<ChunkLocation> Repository::lookup_present(const codec::ChunkId& id) {
  bool pending = false;
  {
    std::lock_guard lock(pending_mu_);
    pending = pending_.count(id) != 0;
  }
  if (pending) return lookup(id);
  bool missing = false;
  auto loc = index().lookup(id, &missing);
  if (missing) return std::nullopt;  // its pack is gone: store it again (load_index)
  return loc;
}

PackInfo Repository::read_pack_info(const std::string& pack) {
  Bytes bytes = storage_->get(pack_object_key(pack));
  return parse_pack(keys_, pack, bytes);
}

std::string Repository::write_index_object(const std::vector<PackInfo>& packs) {
  check_lock_held();
  std::string name = random_hex(32);
  std::string key = "index/" + name;
  Bytes obj = seal_envelope(keys_, EnvelopeKind::kIndex, key, encode_index(packs));
  storage_->put(key, obj, true);
  index().add_index_file(name, packs);
  return name;
}

void Repository::remove_index_object(const std::string& name) {
  check_lock_held();
  storage_->remove("index/" + name);
  std::lock_guard guard(state_mu_);
  ClientStateFile file = state_file();
  if (file.path().empty()) return;
  auto loaded = file.load();
  if (loaded.state.index_objects.erase(name)) file.save(loaded.state);
}

}  // namespace sr::repo

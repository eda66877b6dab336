// The Repository's manifests: save, list, load, scan (readable and damaged), resolve "latest" and
// id prefixes. (repository.cc holds chunks, packs and indexes; repository_state.cc the client
// state and repair primitives.)
#include <algorithm>

#include "base/random.h"
#include "repo/envelope.h"
#include "repo/objects.h"
#include "repo/repository.h"

namespace sr::repo {

using nlohmann::json;

std::string Repository::save_manifest(Manifest& m) {
  check_lock_held();
  if (m.id.empty()) m.id = random_hex(16);
  std::string key = manifest_key(m.id);
  std::string text = m.to_json().dump();
  storage_->put(key, seal_envelope(keys_, EnvelopeKind::kManifest, key, as_bytes(text)), true);
  return m.id;
}

std::vector<std::string> Repository::list_manifest_ids() {
  std::vector<std::string> ids;
  storage_->list("manifests/",
                 [&](const storage::ObjectInfo& o) { ids.push_back(o.key.substr(10)); });
  std::sort(ids.begin(), ids.end());
  return ids;
}

Manifest Repository::load_manifest(const std::string& id) {
  std::string key = manifest_key(id);
  Bytes payload = open_envelope(keys_, EnvelopeKind::kManifest, key, storage_->get(key));
  json j;
  try {
    j = json::parse(as_chars(payload));
  } catch (const json::exception&) {
    throw Error(Errc::kCorrupt, key + " is damaged (not JSON)");
  }
  Manifest m = Manifest::from_json(j);
  if (m.id != id) throw Error(Errc::kCorrupt, key + " names another backup");
  return m;
}

ManifestScan Repository::scan_manifests() {
  ManifestScan out;
  const std::vector<std::string> ids = list_manifest_ids();
  for (const auto& id : ids) {
    try {
      out.readable.push_back(load_manifest(id));
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt) throw;
      out.damaged.push_back({id, e.what()});
    }
  }
  std::sort(out.readable.begin(), out.readable.end(), [](const Manifest& a, const Manifest& b) {
    return a.time_ns != b.time_ns ? a.time_ns < b.time_ns : a.id < b.id;
  });
  observe_state(&ids, &out.readable, nullptr);
  return out;
}

std::vector<Manifest> Repository::list_manifests() {
  ManifestScan scan = scan_manifests();
  if (!scan.damaged.empty()) {
    std::string msg = "backup " + scan.damaged.front().id + " cannot be read (" +
                      scan.damaged.front().error + ")";
    if (scan.damaged.size() > 1)
      msg += " and " + std::to_string(scan.damaged.size() - 1) + " more damaged backup(s)";
    throw Error(Errc::kCorrupt, msg + "; run `strongroom verify` for the full list");
  }
  return std::move(scan.readable);
}

std::string Repository::resolve_backup(const std::string& spec) {
  if (spec == "latest") {
    auto all = list_manifests();
    if (all.empty()) throw Error(Errc::kNotFound, "the repository has no backups yet");
    return all.back().id;
  }
  if (spec.empty() || spec.find_first_not_of("0123456789abcdef") != std::string::npos)
    throw Error(Errc::kUsage,
                "invalid backup id '" + spec + "' (a hex id, a unique prefix, or latest)");
  std::vector<std::string> matches;
  for (const auto& id : list_manifest_ids())
    if (id.rfind(spec, 0) == 0) matches.push_back(id);
  if (matches.empty()) throw Error(Errc::kNotFound, "no backup with id " + spec);
  if (matches.size() > 1)
    throw Error(Errc::kUsage, "backup id prefix " + spec + " is ambiguous; give more characters");
  return matches.front();
}

}  // namespace sr::repo

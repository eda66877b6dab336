#include "repo/client_state.h"

#include <algorithm>

#include "base/error.h"
#include "base/fs.h"
#include "base/time_util.h"

namespace sr::repo {

using nlohmann::json;

namespace {
constexpr int kStateVersion = 1;
constexpr size_t kMaxNamed = 5;  // names per message

std::string first_names(const std::vector<std::string>& names) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < kMaxNamed; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > kMaxNamed) out += " and " + std::to_string(names.size() - kMaxNamed) + " more";
  return out;
}
}  // namespace

std::string series_key(const Manifest& m) {
  std::string paths;
  for (const auto& p : m.paths) paths += (paths.empty() ? "" : " ") + p;
  return m.type + "|" + m.host + "|" + (paths.empty() ? m.source : paths);
}

json ClientState::to_json() const {
  json s = json::object();
  for (const auto& [k, h] : series) s[k] = {{"id", h.manifest_id}, {"time_ns", h.time_ns}};
  return {{"version", kStateVersion},
          {"series", s},
          {"manifests", manifests},
          {"index_objects", index_objects}};
}

ClientState ClientState::from_json(const json& j) {
  try {
    if (!j.is_object() || j.at("version").get<int>() != kStateVersion)
      throw Error(Errc::kCorrupt, "client state: unknown version");
    ClientState s;
    for (const auto& [k, v] : j.at("series").items())
      s.series[k] = SeriesHead{v.at("id").get<std::string>(), v.at("time_ns").get<int64_t>()};
    s.manifests = j.at("manifests").get<std::set<std::string>>();
    s.index_objects = j.at("index_objects").get<std::set<std::string>>();
    return s;
  } catch (const json::exception& e) {
    throw Error(Errc::kCorrupt, std::string("client state is damaged: ") + e.what());
  }
}

void ClientState::add_manifests(const std::vector<std::string>& ids,
                                const std::vector<Manifest>& readable) {
  manifests.insert(ids.begin(), ids.end());
  for (const auto& m : readable) {
    SeriesHead& h = series[series_key(m)];
    if (h.manifest_id.empty() || m.time_ns > h.time_ns ||
        (m.time_ns == h.time_ns && m.id > h.manifest_id))
      h = SeriesHead{m.id, m.time_ns};
  }
}

std::vector<std::string> StateDiff::messages() const {
  std::vector<std::string> out;
  for (const auto& s : rolled_back_series) out.push_back(s);
  if (!missing_manifests.empty())
    out.push_back(std::to_string(missing_manifests.size()) +
                  " backup(s) this client saw before are gone from the repository: " +
                  first_names(missing_manifests));
  if (!missing_index_objects.empty())
    out.push_back(std::to_string(missing_index_objects.size()) +
                  " index object(s) this client saw before are gone from the repository: " +
                  first_names(missing_index_objects));
  return out;
}

json StateDiff::to_json() const {
  return {{"went_backwards", any()},
          {"missing_manifests", missing_manifests},
          {"rolled_back_series", rolled_back_series},
          {"missing_index_objects", missing_index_objects}};
}

StateDiff diff_state(const ClientState& seen, const std::vector<std::string>* manifest_ids,
                     const std::vector<Manifest>* readable,
                     const std::vector<std::string>* index_names) {
  StateDiff d;
  if (manifest_ids) {
    std::set<std::string> present(manifest_ids->begin(), manifest_ids->end());
    for (const auto& id : seen.manifests)
      if (!present.count(id)) d.missing_manifests.push_back(id);
    // Newest present time per series (another client's newer backup explains a new head).
    std::map<std::string, int64_t> newest;
    if (readable)
      for (const auto& m : *readable) {
        auto [it, fresh] = newest.emplace(series_key(m), m.time_ns);
        if (!fresh) it->second = std::max(it->second, m.time_ns);
      }
    for (const auto& [key, head] : seen.series) {
      if (present.count(head.manifest_id)) continue;
      auto it = newest.find(key);
      if (it != newest.end() && it->second >= head.time_ns) continue;
      d.rolled_back_series.push_back("the newest backup of " + key + ", " + head.manifest_id +
                                     " of " + format_rfc3339(head.time_ns) +
                                     ", is gone: `latest` now names an older backup");
    }
  }
  if (index_names) {
    std::set<std::string> present(index_names->begin(), index_names->end());
    for (const auto& n : seen.index_objects)
      if (!present.count(n)) d.missing_index_objects.push_back(n);
  }
  return d;
}

ClientStateFile::ClientStateFile(std::string path, const codec::Key32& mac_key, std::string repo_id)
    : path_(std::move(path)), key_(mac_key), repo_id_(std::move(repo_id)) {}

std::string ClientStateFile::mac(const std::string& body) const {
  std::string msg = "strongroom client state\n" + repo_id_ + "\n" + body;
  return to_hex(codec::hmac_sha256(key_, as_bytes(msg)));
}

ClientStateFile::Loaded ClientStateFile::load() const {
  Loaded out;
  if (path_.empty() || !path_exists(path_)) return out;
  try {
    Bytes raw = read_file(path_);
    json outer = json::parse(as_chars(raw), nullptr, false);
    if (!outer.is_object() || !outer.contains("state") || !outer["state"].is_string() ||
        !outer.contains("mac") || !outer["mac"].is_string())
      throw Error(Errc::kCorrupt, "not a client state file");
    std::string body = outer["state"].get<std::string>();
    std::string expected = mac(body);
    std::string got = outer["mac"].get<std::string>();
    if (!codec::constant_time_equal(as_bytes(expected), as_bytes(got)))
      throw Error(Errc::kCorrupt, "it failed authentication (edited, or from another repository)");
    json inner = json::parse(body, nullptr, false);
    out.state = ClientState::from_json(inner);
  } catch (const Error& e) {
    out.state = ClientState{};
    out.warning = "the client state " + path_ + " was discarded: " + e.what() +
                  "; rollback detection starts again from the current repository";
  }
  return out;
}

void ClientStateFile::save(const ClientState& state) const {
  if (path_.empty()) return;
  std::string body = state.to_json().dump();
  json outer = {{"state", body}, {"mac", mac(body)}};
  std::string text = outer.dump() + "\n";
  write_file_atomic(path_, as_bytes(text));
}

}  // namespace sr::repo

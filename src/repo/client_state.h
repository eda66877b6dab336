// repo/client_state.h: what one client last saw of a repository, kept in its cache and signed,
// so that a repository that went backwards (a storage provider or an attacker with storage
// credentials deleting the newest manifest, or index objects) is noticed.
//
// The state (per client, repository and location: <cache_dir>/<repository id>/state-<h>.json,
// h a keyed hash of Storage::describe(), so that a lagging replica is not a rollback) holds the ids
// of every manifest and the names of every index object the client has listed, and per backup
// series (type, host and source: "the same backup again") the newest manifest with its time. It
// only grows: an object in the state that the repository no longer lists is reported
// (diff_state) until the operator accepts the repository as it now is (replace the state), or a
// strongroom deletion removes the names it deleted (forget_index_objects; a later prune records
// the manifests and index objects it removes the same way, and publishes them in a signed
// deletion record so that other clients accept them too, see docs/FORMAT.md). New objects, also
// from other hosts, are never suspicious: only disappearance is.
//
// The file is JSON with an HMAC-SHA-256 over the state and the repository id, keyed with a key
// derived from the repository's metadata key: a cache that was edited, truncated or copied from
// another repository fails authentication and is discarded with a warning (load returns an empty
// state and says why), never trusted. Written with temp+fsync+rename (write_file_atomic), so a
// crash leaves the old or the new state. Not thread-safe; concurrent processes sharing one cache
// may lose each other's additions (never adding a name that was not listed, so a lost update only
// weakens detection until the next listing).
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "codec/crypto.h"
#include "repo/manifest.h"

namespace sr::repo {

struct SeriesHead {
  std::string manifest_id;
  int64_t time_ns = 0;
  bool operator==(const SeriesHead&) const = default;
};

struct ClientState {
  std::map<std::string, SeriesHead> series;  // series_key → newest manifest seen
  std::set<std::string> manifests;           // every manifest id seen
  std::set<std::string> index_objects;       // every index object name seen
  bool operator==(const ClientState&) const = default;

  nlohmann::json to_json() const;
  static ClientState from_json(const nlohmann::json& j);  // throws kCorrupt
  // Adds what a listing showed: manifest ids (with the readable manifests for the series heads).
  void add_manifests(const std::vector<std::string>& ids, const std::vector<Manifest>& readable);
};

// "files|host|/data /etc": the backups that follow each other (a parent is chosen among them).
std::string series_key(const Manifest& m);

// What went missing since the state was saved.
struct StateDiff {
  std::vector<std::string> missing_manifests;      // ids the repository no longer lists
  std::vector<std::string> rolled_back_series;     // messages: series whose newest backup is gone
  std::vector<std::string> missing_index_objects;  // names the repository no longer lists
  bool any() const { return !missing_manifests.empty() || !missing_index_objects.empty(); }
  // Human-readable lines, one per finding class (empty when !any()).
  std::vector<std::string> messages() const;
  nlohmann::json to_json() const;
};

// Manifests (when `manifest_ids` is given) and index objects (when `index_names` is given) of
// `seen` that the current listing lacks. A missing manifest that was the newest of its series,
// with no newer manifest of that series present, is also named in rolled_back_series.
StateDiff diff_state(const ClientState& seen, const std::vector<std::string>* manifest_ids,
                     const std::vector<Manifest>* readable,
                     const std::vector<std::string>* index_names);

class ClientStateFile {
 public:
  // `path` "" disables the state (load returns empty, save does nothing). `repo_id` is bound
  // into the MAC.
  ClientStateFile(std::string path, const codec::Key32& mac_key, std::string repo_id);
  struct Loaded {
    ClientState state;
    std::string warning;  // why a present file was discarded ("" when it was fine or absent)
  };
  Loaded load() const;
  void save(const ClientState& state) const;
  const std::string& path() const { return path_; }

 private:
  std::string mac(const std::string& body) const;
  std::string path_;
  codec::Key32 key_;
  std::string repo_id_;
};

}  // namespace sr::repo

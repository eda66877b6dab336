// repo/manifest.h: a backup's manifest (manifests/<id>): what was backed up, from where, when,
// and the tree chunks that describe it. Stored as JSON inside an envelope; unknown fields are
// kept (`extra`), so later versions can add fields without breaking older readers.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace sr::repo {

struct Manifest {
  std::string id;      // 32 hex characters; also the object name
  std::string type;    // "files" | "command"
  std::string source;  // what a person reads in the list: the paths, or "command:NAME"
  std::string host, user;
  int64_t time_ns = 0, end_time_ns = 0;
  std::vector<std::string> paths;  // files: absolute paths given
  std::string root;                // files: directory the tree paths are relative to
  std::vector<std::string> tags;
  std::string name, command;  // command backups
  int exit_status = 0;
  uint64_t size = 0, stored_size = 0, added_size = 0;
  uint64_t file_count = 0, dir_count = 0;
  std::string parent;
  std::string config_source;      // the configuration file's source that made it ("" if none)
  std::vector<std::string> tree;  // hex ids of the tree stream's chunks
  nlohmann::json extra = nlohmann::json::object();

  nlohmann::json to_json() const;
  static Manifest from_json(const nlohmann::json& j);  // throws kCorrupt
  // The public listing form (backups --json), with RFC 3339 times.
  nlohmann::json to_listing_json() const;
};

}  // namespace sr::repo

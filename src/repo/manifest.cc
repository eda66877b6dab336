#include "repo/manifest.h"

#include "base/error.h"
#include "base/json_util.h"
#include "base/time_util.h"

namespace sr::repo {

using nlohmann::json;

json Manifest::to_json() const {
  json j = extra;
  j["version"] = 1;
  j["id"] = id;
  j["type"] = type;
  j["source"] = source;
  j["host"] = host;
  j["user"] = user;
  j["time_ns"] = time_ns;
  j["end_time_ns"] = end_time_ns;
  j["paths"] = paths;
  j["root"] = root;
  j["tags"] = tags;
  j["name"] = name;
  j["command"] = command;
  j["exit_status"] = exit_status;
  j["size"] = size;
  j["stored_size"] = stored_size;
  j["added_size"] = added_size;
  j["file_count"] = file_count;
  j["dir_count"] = dir_count;
  j["parent"] = parent;
  j["tree"] = tree;
  if (!config_source.empty()) j["config_source"] = config_source;
  return j;
}

Manifest Manifest::from_json(const json& j) {
  try {
    if (!j.is_object()) throw Error(Errc::kCorrupt, "manifest is damaged: not an object");
    const std::string what = "manifest";
    Manifest m;
    m.id = j.at("id").get<std::string>();
    m.type = j.at("type").get<std::string>();
    m.source = j.value("source", "");
    m.host = j.value("host", "");
    m.user = j.value("user", "");
    m.time_ns = json_int<int64_t>(j, "time_ns", what);
    m.end_time_ns = json_int_or<int64_t>(j, "end_time_ns", m.time_ns, what);
    if (m.end_time_ns < m.time_ns)
      throw Error(Errc::kCorrupt, "manifest is damaged: ends before it starts");
    m.paths = j.value("paths", std::vector<std::string>{});
    m.root = j.value("root", "");
    m.tags = j.value("tags", std::vector<std::string>{});
    m.name = j.value("name", "");
    m.command = j.value("command", "");
    m.exit_status = json_int_or<int>(j, "exit_status", 0, what);
    m.size = json_int_or<uint64_t>(j, "size", 0, what);
    m.stored_size = json_int_or<uint64_t>(j, "stored_size", 0, what);
    m.added_size = json_int_or<uint64_t>(j, "added_size", 0, what);
    m.file_count = json_int_or<uint64_t>(j, "file_count", 0, what);
    m.dir_count = json_int_or<uint64_t>(j, "dir_count", 0, what);
    m.parent = j.value("parent", "");
    m.config_source = j.value("config_source", "");
    m.tree = j.at("tree").get<std::vector<std::string>>();
    for (const auto& t : m.tree)
      if (t.size() != 64 || t.find_first_not_of("0123456789abcdef") != std::string::npos)
        throw Error(Errc::kCorrupt, "manifest " + m.id + " has a bad tree id");
    m.extra = j;
    for (const char* k :
         {"version",   "id",          "type",  "source",       "host",       "user",
          "time_ns",   "end_time_ns", "paths", "root",         "tags",       "name",
          "command",   "exit_status", "size",  "stored_size",  "added_size", "file_count",
          "dir_count", "parent",      "tree",  "config_source"})
      m.extra.erase(k);
    return m;
  } catch (const json::exception& e) {
    throw Error(Errc::kCorrupt, std::string("manifest is damaged: ") + e.what());
  }
}

json Manifest::to_listing_json() const {
  json j = {
      {"id", id},
      {"time", format_rfc3339(time_ns)},
      {"end_time", format_rfc3339(end_time_ns)},
      {"duration_seconds", (static_cast<double>(end_time_ns) - static_cast<double>(time_ns)) / 1e9},
      {"source", source},
      {"type", type},
      {"host", host},
      {"user", user},
      {"size", size},
      {"stored_size", stored_size},
      {"added_size", added_size},
      {"file_count", file_count},
      {"tags", tags}};
  if (type == "files") j["paths"] = paths;
  if (type == "command") {
    j["name"] = name;
    j["command"] = command;
    j["exit_status"] = exit_status;
  }
  if (!parent.empty()) j["parent"] = parent;
  if (!config_source.empty()) j["config_source"] = config_source;
  if (extra.contains("pg") && extra["pg"].is_object()) {
    // PostgreSQL backups: what a restore test and an operator need, without the large fields.
    nlohmann::json pg = extra["pg"];
    pg.erase("backup_label");
    pg.erase("tablespace_map");
    pg.erase("stop_xip");
    j["pg"] = pg;
  }
  return j;
}

}  // namespace sr::repo

#include "repo/manifest.h"

#include "base/error.h"
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
  return j;
}

Manifest Manifest::from_json(const json& j) {
  try {
    Manifest m;
    m.id = j.at("id").get<std::string>();
    m.type = j.at("type").get<std::string>();
    m.source = j.value("source", "");
    m.host = j.value("host", "");
    m.user = j.value("user", "");
    m.time_ns = j.at("time_ns").get<int64_t>();
    m.end_time_ns = j.value("end_time_ns", m.time_ns);
    m.paths = j.value("paths", std::vector<std::string>{});
    m.root = j.value("root", "");
    m.tags = j.value("tags", std::vector<std::string>{});
    m.name = j.value("name", "");
    m.command = j.value("command", "");
    m.exit_status = j.value("exit_status", 0);
    m.size = j.value("size", uint64_t{0});
    m.stored_size = j.value("stored_size", uint64_t{0});
    m.added_size = j.value("added_size", uint64_t{0});
    m.file_count = j.value("file_count", uint64_t{0});
    m.dir_count = j.value("dir_count", uint64_t{0});
    m.parent = j.value("parent", "");
    m.tree = j.at("tree").get<std::vector<std::string>>();
    for (const auto& t : m.tree)
      if (t.size() != 64) throw Error(Errc::kCorrupt, "manifest " + m.id + " has a bad tree id");
    m.extra = j;
    for (const char* k :
         {"version",   "id",          "type",  "source",      "host",       "user",
          "time_ns",   "end_time_ns", "paths", "root",        "tags",       "name",
          "command",   "exit_status", "size",  "stored_size", "added_size", "file_count",
          "dir_count", "parent",      "tree"})
      m.extra.erase(k);
    return m;
  } catch (const json::exception& e) {
    throw Error(Errc::kCorrupt, std::string("manifest is damaged: ") + e.what());
  }
}

json Manifest::to_listing_json() const {
  json j = {{"id", id},
            {"time", format_rfc3339(time_ns)},
            {"end_time", format_rfc3339(end_time_ns)},
            {"duration_seconds", static_cast<double>(end_time_ns - time_ns) / 1e9},
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
  return j;
}

}  // namespace sr::repo

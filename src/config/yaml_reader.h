// config/yaml_reader.h: reading a YAML document (yaml-cpp) as checked settings, for
// config.cc: `Map` refuses duplicate keys up front and, at finish(), every key nobody asked
// for; `Value` reads one value as the type asked for. Every failure is Error{kUsage}
// "FILE:LINE:COLUMN: key.path: what". Kept apart from the schema (config.cc) so that each reads
// on its own; not for other layers.
#pragma once

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "base/error.h"
#include "config/schedule.h"

namespace sr::config::yaml_reader {

// Where an error is: the file, a node's position and the key path leading to it.
struct Where {
  const std::string* file;
  YAML::Mark mark;
  std::string path;
};

[[noreturn]] inline void fail(const Where& w, const std::string& message) {
  std::string pos = *w.file;
  if (!w.mark.is_null())
    pos += ":" + std::to_string(w.mark.line + 1) + ":" + std::to_string(w.mark.column + 1);
  throw Error(Errc::kUsage, pos + ": " + (w.path.empty() ? "" : w.path + ": ") + message);
}

inline const char* type_name(const YAML::Node& n) {
  switch (n.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return "a value";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "an undefined node";
  }
}

inline std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

class Value;

// A mapping being read: every key is checked for duplicates up front, every key read is marked,
// and finish() refuses the keys nobody asked for, listing the known ones.
class Map {
 public:
  Map(const YAML::Node& node, Where where) : node_(node), where_(std::move(where)) {
    if (!node.IsMap()) fail(where_, std::string("expected a mapping, got ") + type_name(node));
    std::set<std::string> seen;
    for (auto it = node.begin(); it != node.end(); ++it) {
      Where kw{where_.file, it->first.Mark(), child_path(it->first.Scalar())};
      if (!it->first.IsScalar()) fail(kw, "keys must be plain names");
      if (!seen.insert(it->first.Scalar()).second)
        fail(kw, "duplicate key (an earlier '" + it->first.Scalar() +
                     "' in the same mapping would be silently overridden)");
      entries_.push_back({it->first.Scalar(), it->second, it->first.Mark()});
    }
  }

  bool has(const std::string& key) {
    known_.push_back(key);
    return find(key) != nullptr;
  }
  // The value of `key`, or nullptr when absent (or null: "key:" with nothing).
  std::optional<Value> get(const std::string& key);
  Value need(const std::string& key);
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& e : entries_) out.push_back(e.key);
    return out;
  }
  const Where& where() const { return where_; }
  // Where `key` is written (the mapping's own position when absent).
  YAML::Mark mark_of(const std::string& key) const {
    const Entry* e = find(key);
    return e ? e->mark : where_.mark;
  }
  std::string child_path(const std::string& key) const {
    return where_.path.empty() ? key : where_.path + "." + key;
  }

  void finish() {
    for (const auto& e : entries_)
      if (std::find(known_.begin(), known_.end(), e.key) == known_.end())
        fail(Where{where_.file, e.mark, child_path(e.key)},
             "unknown key (known here: " + join(known_) + ")");
  }

 private:
  struct Entry {
    std::string key;
    YAML::Node value;
    YAML::Mark mark;
  };
  const Entry* find(const std::string& key) const {
    for (const auto& e : entries_)
      if (e.key == key) return &e;
    return nullptr;
  }
  YAML::Node node_;
  Where where_;
  std::vector<Entry> entries_;
  std::vector<std::string> known_;
  friend class Value;
};

// One value with its position, read as the type asked for.
class Value {
 public:
  Value(YAML::Node node, Where where) : node_(std::move(node)), where_(std::move(where)) {}

  std::string str() const {
    if (!node_.IsScalar()) fail(where_, std::string("expected a value, got ") + type_name(node_));
    const std::string& tag = node_.Tag();
    if (!tag.empty() && tag != "?" && tag != "!")
      fail(where_, "'" + tag + "' is read as a YAML tag: quote the value (e.g. \"" + tag + " " +
                       node_.Scalar() + "\")");
    return node_.Scalar();
  }
  std::string nonempty() const {
    std::string s = str();
    if (s.empty()) fail(where_, "must not be empty");
    return s;
  }
  int64_t integer(int64_t lo, int64_t hi) const {
    std::string s = str();
    if (s.empty() || s.size() > 18 ||
        !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
      fail(where_, "expected a whole number, got '" + s + "'");
    int64_t v = std::stoll(s);
    if (v < lo || v > hi)
      fail(where_, "must be between " + std::to_string(lo) + " and " + std::to_string(hi));
    return v;
  }
  double number(double lo, double hi) const {
    std::string s = str();
    size_t used = 0;
    double v = 0;
    try {
      v = std::stod(s, &used);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != s.size() || !std::isfinite(v))
      fail(where_, "expected a number, got '" + s + "'");
    if (v < lo || v > hi) fail(where_, "must be between " + fmt(lo) + " and " + fmt(hi));
    return v;
  }
  // "10%" or a fraction "0.1".
  double fraction() const {
    std::string s = str();
    if (!s.empty() && s.back() == '%') {
      Value pct(YAML::Node(s.substr(0, s.size() - 1)), where_);
      return pct.number(0, 100) / 100.0;
    }
    return number(0, 1);
  }
  bool boolean() const {
    std::string s = str();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
    fail(where_, "expected true or false, got '" + s + "'");
  }
  int64_t duration() const {
    try {
      return parse_duration(str());
    } catch (const Error& e) {
      fail(where_, e.what());
    }
  }
  uint64_t size() const {
    std::string s = str();
    static const char* kUnits = "KMGT";
    uint64_t mult = 1;
    std::string digits = s;
    if (!s.empty()) {
      if (const char* u = std::strchr(kUnits, s.back()); u != nullptr && *u) {
        mult = 1ull << (10 * (u - kUnits + 1));
        digits = s.substr(0, s.size() - 1);
      }
    }
    Value n(YAML::Node(digits), where_);
    return static_cast<uint64_t>(n.integer(1, (int64_t{1} << 50) / static_cast<int64_t>(mult))) *
           mult;
  }
  std::string one_of(std::initializer_list<const char*> allowed) const {
    std::string s = str();
    std::vector<std::string> names;
    for (const char* a : allowed) {
      if (s == a) return s;
      names.push_back(a);
    }
    fail(where_, "'" + s + "' is not one of: " + join(names));
  }
  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    if (node_.IsScalar()) return {nonempty()};  // one item may be written without a list
    for_each([&](const Value& v) { out.push_back(v.nonempty()); });
    return out;
  }
  template <typename F>
  void for_each(F&& f) const {
    if (!node_.IsSequence()) fail(where_, std::string("expected a list, got ") + type_name(node_));
    size_t i = 0;
    for (const auto& item : node_) {
      f(Value(item,
              Where{where_.file, item.Mark(), where_.path + "[" + std::to_string(i++) + "]"}));
    }
  }
  Map map() const { return Map(node_, where_); }
  const Where& where() const { return where_; }
  const YAML::Node& node() const { return node_; }

 private:
  static std::string fmt(double d) {
    std::ostringstream o;
    o << d;
    return o.str();
  }
  YAML::Node node_;
  Where where_;
};

inline std::optional<Value> Map::get(const std::string& key) {
  known_.push_back(key);
  const Entry* e = find(key);
  if (e == nullptr || e->value.IsNull()) return std::nullopt;
  return Value(e->value, Where{where_.file, e->value.Mark(), child_path(key)});
}

inline Value Map::need(const std::string& key) {
  auto v = get(key);
  if (!v) fail(where_, "missing key '" + key + "'");
  return *v;
}

}  // namespace sr::config::yaml_reader

// base/json_util.h: reading numbers from JSON that may come from untrusted bytes.
//
// nlohmann's get<T>() converts a float or an out-of-range integer with undefined behaviour; these
// helpers accept only integers that fit T and throw Error{kCorrupt} naming `what` otherwise.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <utility>

#include "base/error.h"

namespace sr {

template <typename T>
T json_int(const nlohmann::json& j, const char* key, const std::string& what) {
  if (!j.is_object() || !j.contains(key))
    throw Error(Errc::kCorrupt, what + " is damaged: no field '" + key + "'");
  const nlohmann::json& v = j[key];
  if (v.is_number_unsigned()) {
    auto u = v.get<uint64_t>();
    if (std::in_range<T>(u)) return static_cast<T>(u);
  } else if (v.is_number_integer()) {
    auto s = v.get<int64_t>();
    if (std::in_range<T>(s)) return static_cast<T>(s);
  }
  throw Error(Errc::kCorrupt, what + " is damaged: field '" + key + "' is not a valid integer");
}

template <typename T>
T json_int_or(const nlohmann::json& j, const char* key, T fallback, const std::string& what) {
  if (!j.is_object() || !j.contains(key)) return fallback;
  return json_int<T>(j, key, what);
}

}  // namespace sr

#include "storage/url.h"

#include "base/error.h"

namespace sr::storage {

std::string ascii_lower(std::string s) {
  for (char& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

std::string uri_encode(std::string_view s, bool keep_slash) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size() * 3);
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string encode_query(const QueryParams& params) {
  std::string out;
  for (const auto& [name, value] : params) {
    if (!out.empty()) out.push_back('&');
    out += uri_encode(name) + "=" + uri_encode(value);
  }
  return out;
}

Endpoint parse_endpoint(const std::string& url, const std::string& what) {
  auto bad = [&](const std::string& why) {
    return Error(Errc::kUsage, what + " '" + url + "' is not a valid endpoint URL (" + why +
                                   "); expected e.g. http://127.0.0.1:9000");
  };
  auto sep = url.find("://");
  if (sep == std::string::npos) throw bad("no scheme");
  Endpoint e;
  e.scheme = url.substr(0, sep);
  if (e.scheme != "http" && e.scheme != "https") throw bad("scheme must be http or https");
  std::string rest = url.substr(sep + 3);
  auto slash = rest.find('/');
  e.host = rest.substr(0, slash);
  if (e.host.empty()) throw bad("no host");
  if (slash != std::string::npos) e.base_path = rest.substr(slash);
  while (!e.base_path.empty() && e.base_path.back() == '/') e.base_path.pop_back();
  if (e.base_path.find_first_of("?#") != std::string::npos) throw bad("query or fragment");
  return e;
}

std::pair<std::string, std::string> split_container_url(const std::string& rest,
                                                        const std::string& url) {
  std::string s = rest;
  while (!s.empty() && s.back() == '/') s.pop_back();
  auto slash = s.find('/');
  std::string first = s.substr(0, slash);
  std::string prefix = slash == std::string::npos ? "" : s.substr(slash + 1);
  if (first.empty())
    throw Error(Errc::kUsage, "repository URL '" + url + "' names no bucket or container");
  if (prefix.find("//") != std::string::npos)
    throw Error(Errc::kUsage, "repository URL '" + url + "' has an empty path segment");
  return {first, prefix};
}

}  // namespace sr::storage

// storage/url.h: the small pieces of URL handling the object-store backends share.
//
// Percent-encoding per RFC 3986 (unreserved characters A-Z a-z 0-9 - . _ ~ stay literal, every
// other byte becomes %XX with upper-case hex), which is what both SigV4 and Azure expect, and a
// parsed endpoint ("http://127.0.0.1:10000/devstoreaccount1" → scheme, host header, base path).
// Pure functions; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sr::storage {

using QueryParams = std::vector<std::pair<std::string, std::string>>;

// ASCII lower case (header names, query parameter names).
std::string ascii_lower(std::string s);

// Encodes every byte except the unreserved ones; '/' is kept literal when keep_slash.
std::string uri_encode(std::string_view s, bool keep_slash = false);
// "a=1&b=x%2Fy" from raw (unencoded) names and values, in the given order.
std::string encode_query(const QueryParams& params);

struct Endpoint {
  std::string scheme;     // "http" or "https"
  std::string host;       // the Host header value: "127.0.0.1:10000" (port only when given)
  std::string base_path;  // "" or "/devstoreaccount1" (no trailing '/')
  std::string origin() const { return scheme + "://" + host; }
};

// Parses "scheme://host[:port][/path]"; throws Errc::kUsage naming `what` when malformed.
Endpoint parse_endpoint(const std::string& url, const std::string& what);

// Splits "BUCKET/some/prefix" (after the scheme) into the first segment and the rest, without
// leading or trailing '/'; throws Errc::kUsage when the first segment is empty.
std::pair<std::string, std::string> split_container_url(const std::string& rest,
                                                        const std::string& url);

}  // namespace sr::storage

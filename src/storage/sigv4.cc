#include "storage/sigv4.h"

#include <algorithm>
#include <ctime>
#include <map>

#include "storage/digest.h"
#include "storage/url.h"

namespace sr::storage {
namespace {

// Trims leading/trailing spaces and tabs and collapses inner runs into one space.
std::string canonical_value(const std::string& v) {
  std::string out;
  bool pending_space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// Lower-cased name → values joined by ',' in request order; std::map keeps names sorted.
std::map<std::string, std::string> canonical_header_map(const HeaderList& headers) {
  std::map<std::string, std::string> m;
  for (const auto& [name, value] : headers) {
    std::string key = ascii_lower(name);
    std::string v = canonical_value(value);
    auto [it, inserted] = m.emplace(key, v);
    if (!inserted) it->second += "," + v;
  }
  return m;
}

}  // namespace

std::string sigv4_canonical_uri(const std::string& path) {
  if (path.empty()) return "/";
  std::string p = path.front() == '/' ? path : "/" + path;
  return uri_encode(p, /*keep_slash=*/true);
}

std::string sigv4_canonical_query(const QueryParams& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  enc.reserve(query.size());
  for (const auto& [n, v] : query) enc.emplace_back(uri_encode(n), uri_encode(v));
  std::sort(enc.begin(), enc.end());
  std::string out;
  for (const auto& [n, v] : enc) {
    if (!out.empty()) out.push_back('&');
    out += n + "=" + v;
  }
  return out;
}

std::string sigv4_signed_headers(const HeaderList& headers) {
  std::string out;
  for (const auto& [name, value] : canonical_header_map(headers)) {
    if (!out.empty()) out.push_back(';');
    out += name;
  }
  return out;
}

std::string sigv4_canonical_request(const SigV4Request& r) {
  std::string out =
      r.method + "\n" + sigv4_canonical_uri(r.path) + "\n" + sigv4_canonical_query(r.query) + "\n";
  for (const auto& [name, value] : canonical_header_map(r.headers))
    out += name + ":" + value + "\n";
  out += "\n" + sigv4_signed_headers(r.headers) + "\n" + r.payload_hash;
  return out;
}

std::string sigv4_string_to_sign(const std::string& amz_date, const SigV4Scope& scope,
                                 const std::string& canonical_request) {
  return "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope.str() + "\n" +
         sha256_hex(as_bytes(canonical_request));
}

std::string sigv4_signature(const std::string& secret_access_key, const SigV4Scope& scope,
                            const std::string& string_to_sign) {
  Bytes k = hmac_sha256_bytes(as_bytes("AWS4" + secret_access_key), as_bytes(scope.date));
  k = hmac_sha256_bytes(k, as_bytes(scope.region));
  k = hmac_sha256_bytes(k, as_bytes(scope.service));
  k = hmac_sha256_bytes(k, as_bytes("aws4_request"));
  return to_hex(hmac_sha256_bytes(k, as_bytes(string_to_sign)));
}

std::string sigv4_authorization(const SigV4Request& request, const SigV4Credentials& credentials,
                                const std::string& amz_date, const SigV4Scope& scope) {
  std::string sts = sigv4_string_to_sign(amz_date, scope, sigv4_canonical_request(request));
  return "AWS4-HMAC-SHA256 Credential=" + credentials.access_key_id + "/" + scope.str() +
         ", SignedHeaders=" + sigv4_signed_headers(request.headers) +
         ", Signature=" + sigv4_signature(credentials.secret_access_key, scope, sts);
}

std::string amz_date(int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace sr::storage

// storage/sigv4.h: AWS Signature Version 4 for the header form (the S3 backend's signer).
//
// Pure functions over a request description, exposed stage by stage (canonical request, string
// to sign, signature) so the unit test can check each against AWS's published test suite. The
// canonical URI is encoded once, segment by segment, and never normalised: that is S3's rule
// (other AWS services double-encode). The payload hash is always the real SHA-256 of the body;
// strongroom never uses UNSIGNED-PAYLOAD or aws-chunked bodies. Thread-safe.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "storage/url.h"

namespace sr::storage {

using HeaderList = std::vector<std::pair<std::string, std::string>>;

struct SigV4Credentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token;  // empty unless temporary credentials
};

struct SigV4Request {
  std::string method;        // "GET"
  std::string path;          // raw (unencoded) path, e.g. "/bucket/data/ab/ab12"
  QueryParams query;         // raw names and values
  HeaderList headers;        // every header that is signed (Host and X-Amz-Date included)
  std::string payload_hash;  // lower-case hex SHA-256 of the body
};

struct SigV4Scope {
  std::string date;  // "20150830"
  std::string region;
  std::string service;
  std::string str() const { return date + "/" + region + "/" + service + "/aws4_request"; }
};

std::string sigv4_canonical_uri(const std::string& path);
std::string sigv4_canonical_query(const QueryParams& query);
// "host;x-amz-date" for the given headers (lower-cased, sorted, duplicates once).
std::string sigv4_signed_headers(const HeaderList& headers);
std::string sigv4_canonical_request(const SigV4Request& request);
std::string sigv4_string_to_sign(const std::string& amz_date, const SigV4Scope& scope,
                                 const std::string& canonical_request);
std::string sigv4_signature(const std::string& secret_access_key, const SigV4Scope& scope,
                            const std::string& string_to_sign);
// The Authorization header value for a request whose headers already carry X-Amz-Date (and
// X-Amz-Security-Token / X-Amz-Content-Sha256 where used).
std::string sigv4_authorization(const SigV4Request& request, const SigV4Credentials& credentials,
                                const std::string& amz_date, const SigV4Scope& scope);

// "20150830T123600Z" for a Unix time in seconds.
std::string amz_date(int64_t unix_seconds);

}  // namespace sr::storage

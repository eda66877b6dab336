// storage/azure_shared_key.h: Azure Storage Shared Key request signing.
//
// The string to sign is, in the order of Azure's REST documentation ("Authorize with Shared
// Key"): VERB, Content-Encoding, Content-Language, Content-Length (empty when 0), Content-MD5,
// Content-Type, Date, If-Modified-Since, If-Match, If-None-Match, If-Unmodified-Since, Range,
// then the canonicalized x-ms- headers (lower-case names, sorted, "name:value\n") and the
// canonicalized resource ("/" + account + the encoded URL path, then "\nname:value" per query
// parameter with lower-case names sorted, values decoded, repeated names joined by ','). For a
// path-style emulator URL the account therefore appears twice ("/devstoreaccount1/
// devstoreaccount1/container/blob"), as Azure documents. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <string>

#include "base/bytes.h"
#include "storage/sigv4.h"
#include "storage/url.h"

namespace sr::storage {

struct AzureSignInput {
  std::string method;
  std::string account;
  std::string encoded_path;  // as sent: "/devstoreaccount1/container/data/ab"
  QueryParams query;         // raw values, without a SAS
  HeaderList headers;        // as sent (x-ms-date and x-ms-version included)
  uint64_t content_length = 0;
};

std::string azure_string_to_sign(const AzureSignInput& in);
// "SharedKey ACCOUNT:BASE64(HMAC-SHA256(key, string_to_sign))".
std::string azure_authorization(const std::string& account, ByteSpan key,
                                const std::string& string_to_sign);
// RFC 1123 date for x-ms-date: "Wed, 25 Nov 2026 12:00:00 GMT".
std::string rfc1123_date(int64_t unix_seconds);

}  // namespace sr::storage

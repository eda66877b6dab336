// storage/http_client.h: HTTP requests over libcurl for the object-store backends.
//
// One CURL easy handle per thread, kept for the thread's life, so connections are reused
// (keep-alive) without locking. Bodies come from memory or from a range of a local file (read with
// pread while sending: a multi-GiB file is never held in memory); response bodies go to memory.
// Timeouts (HttpSettings, settings.h): connect (10 s) and stall (a transfer that moves nothing for
// stall_seconds, 30 s, is aborted and retried).
//
// send() retries by RetryPolicy: 5xx, 408, 429 and transport failures (refused, reset, timed out,
// empty reply), each attempt signed afresh by the caller's `sign` callback (dates change). The
// final response is returned whatever its status; if none arrived within the budget, send throws
// Error(kIo). attempts > 1 in the response tells a caller that an earlier attempt may have taken
// effect on the server (e.g. a put whose answer was lost) — see the backends' if_absent handling.
//
// HttpSettings::trace writes one line per attempt to stderr, with signatures, SAS tokens,
// keys and Authorization headers redacted (redact_url / redact_header).
// Thread-safe: an HttpClient may be shared by any number of threads.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "base/bytes.h"
#include "storage/retry_policy.h"
#include "storage/settings.h"
#include "storage/sigv4.h"

namespace sr::storage {

struct HttpBody {
  ByteSpan memory;   // used when file is empty (must outlive send)
  std::string file;  // a local file: [offset, offset+length) is sent
  uint64_t offset = 0;
  uint64_t length = 0;
  uint64_t size() const { return file.empty() ? memory.size() : length; }
};

struct HttpRequest {
  std::string method;  // GET, HEAD, PUT, POST, DELETE
  std::string url;     // complete and encoded
  HeaderList headers;  // Content-Length is added from the body for PUT and POST
  HttpBody body;
};

struct HttpResponse {
  long status = 0;
  HeaderList headers;  // names lower-cased
  Bytes body;
  int attempts = 1;
  bool landed = false;  // no answer of its own: the `landed` check of send() saw its effect
  // Value of a header (name lower-case), or "" when absent.
  std::string header(std::string_view name) const;
  // The Content-Length header as a size: 1 to 20 decimal digits that fit 64 bits. Absent, empty,
  // signed, garbage or overflowing values throw Error{kTransient} (a garbled answer; retried
  // like one) naming `what`.
  uint64_t content_length(const std::string& what) const;
};

class HttpClient {
 public:
  explicit HttpClient(HttpSettings options);
  // `what` names the operation in messages, e.g. "azure: PUT data/ab/ab12…". `landed`, when
  // given, is asked before each retry whether a failed attempt took effect anyway (for requests
  // that cannot simply be repeated, like CompleteMultipartUpload); if it did, send returns a
  // response with status 200 and landed = true.
  HttpResponse send(const HttpRequest& request, const std::function<void(HttpRequest&)>& sign,
                    const std::string& what, const std::function<bool()>& landed = nullptr) const;
  const HttpSettings& options() const { return options_; }

 private:
  HttpSettings options_;
};

// The URL with the values of signature-bearing query parameters (sig, X-Amz-Signature,
// X-Amz-Credential, X-Amz-Security-Token, …) replaced by "REDACTED".
std::string redact_url(const std::string& url);
// One header line of a response as libcurl hands it over (CRLF included): a status line
// ("HTTP/…") starts a new response and clears `headers`; "Name: value" is appended with the name
// lower-cased and leading blanks of the value removed; anything else is ignored.
void parse_response_header_line(std::string_view line, HeaderList& headers);
// Parses a Content-Length value as content_length() does (for tests and other callers).
uint64_t parse_content_length(std::string_view text, const std::string& what);
// "Name: value" for a log, with the value of Authorization and secret-bearing headers redacted.
std::string redact_header(const std::string& name, const std::string& value);

}  // namespace sr::storage

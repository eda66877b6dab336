#include "storage/http_client.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "base/fs.h"
#include "base/time_util.h"
#include "storage/url.h"

namespace sr::storage {
namespace {

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

// The calling thread's handle; its connection cache survives curl_easy_reset.
CURL* thread_handle() {
  thread_local std::unique_ptr<CURL, CurlDeleter> handle;
  if (!handle) {
    global_init();
    handle.reset(curl_easy_init());
    if (!handle) throw Error(Errc::kInternal, "cannot create a libcurl handle");
  }
  return handle.get();
}

std::mt19937_64& thread_rng() {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  return rng;
}

struct Transfer {
  const HttpBody* body = nullptr;
  int fd = -1;
  uint64_t sent = 0;
  bool read_failed = false;
  HttpResponse* response = nullptr;
};

size_t read_cb(char* buf, size_t size, size_t nitems, void* p) {
  auto* t = static_cast<Transfer*>(p);
  uint64_t total = t->body->size();
  size_t n = static_cast<size_t>(std::min<uint64_t>(size * nitems, total - t->sent));
  if (n == 0) return 0;
  if (t->body->file.empty()) {
    std::memcpy(buf, t->body->memory.data() + t->sent, n);
  } else {
    ssize_t r = ::pread(t->fd, buf, n, static_cast<off_t>(t->body->offset + t->sent));
    if (r <= 0) {
      t->read_failed = true;
      return CURL_READFUNC_ABORT;
    }
    n = static_cast<size_t>(r);
  }
  t->sent += n;
  return n;
}

size_t write_cb(char* data, size_t size, size_t nmemb, void* p) {
  auto* t = static_cast<Transfer*>(p);
  t->response->body.insert(t->response->body.end(), reinterpret_cast<uint8_t*>(data),
                           reinterpret_cast<uint8_t*>(data) + size * nmemb);
  return size * nmemb;
}

size_t header_cb(char* data, size_t size, size_t nitems, void* p) {
  auto* t = static_cast<Transfer*>(p);
  parse_response_header_line(std::string_view(data, size * nitems), t->response->headers);
  return size * nitems;
}

bool retryable_transport(CURLcode c) {
  switch (c) {
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_READ_ERROR:
    case CURLE_ABORTED_BY_CALLBACK:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_NOT_BUILT_IN:
    case CURLE_LOGIN_DENIED:
      return false;
    default:
      return true;
  }
}

// What to do about a certificate the client does not trust (or a CA bundle libcurl cannot use).
std::string tls_hint(CURLcode c, const HttpSettings& options) {
  if (c != CURLE_PEER_FAILED_VERIFICATION && c != CURLE_SSL_CACERT_BADFILE &&
      c != CURLE_SSL_CERTPROBLEM)
    return "";
  if (options.ca_file.empty())
    return ": the server's TLS certificate is not trusted by the system's CAs; give the CA "
           "that signed it with --ca-file (or AWS_CA_BUNDLE / SSL_CERT_FILE)";
  return ": the server's TLS certificate is not trusted by the CA bundle " + options.ca_file +
         " (" + options.ca_file_from + ")";
}

struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

}  // namespace

void parse_response_header_line(std::string_view line, HeaderList& headers) {
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.remove_suffix(1);
  if (line.substr(0, 5) == "HTTP/") {
    headers.clear();  // a new response (after 100 Continue or a redirect)
  } else if (auto colon = line.find(':'); colon != std::string_view::npos) {
    std::string_view value = line.substr(colon + 1);
    size_t b = value.find_first_not_of(" \t");
    value = b == std::string_view::npos ? std::string_view() : value.substr(b);
    headers.emplace_back(ascii_lower(std::string(line.substr(0, colon))), std::string(value));
  }
}

std::string HttpResponse::header(std::string_view name) const {
  for (const auto& [n, v] : headers)
    if (n == name) return v;
  return "";
}

uint64_t parse_content_length(std::string_view text, const std::string& what) {
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), n, 10);
  if (text.empty() || text.front() < '0' || text.front() > '9' || ec != std::errc() ||
      end != text.data() + text.size())
    throw Error(Errc::kTransient, what + ": the server sent an invalid Content-Length '" +
                                      std::string(text.substr(0, 40)) + "'");
  return n;
}

uint64_t HttpResponse::content_length(const std::string& what) const {
  return parse_content_length(header("content-length"), what);
}

HttpClient::HttpClient(HttpSettings options) : options_(std::move(options)) { global_init(); }

// One attempt of `r` on the thread's handle, reading the body from and writing the answer to `t`.
static CURLcode perform(CURL* c, const HttpRequest& r, Transfer& t, bool has_body,
                        const HttpSettings& options) {
  curl_easy_reset(c);
  curl_easy_setopt(c, CURLOPT_URL, r.url.c_str());
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, options.connect_timeout_seconds);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, options.stall_seconds);
  curl_easy_setopt(c, CURLOPT_TCP_KEEPALIVE, 1L);
  // Peer and host verification stay at libcurl's defaults (on); only the trusted CAs can change.
  if (!options.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, options.ca_file.c_str());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, header_cb);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  if (r.method == "HEAD") {
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(r.body.size()));
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &t);
    if (r.method != "PUT") curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  } else if (r.method != "GET") {
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, r.method.c_str());
  }
  std::unique_ptr<curl_slist, SlistDeleter> list;
  auto add = [&](const std::string& h) {
    curl_slist* n = curl_slist_append(list.get(), h.c_str());
    if (!n) throw Error(Errc::kInternal, "out of memory building HTTP headers");
    (void)list.release();
    list.reset(n);
  };
  for (const auto& [name, value] : r.headers) add(value.empty() ? name + ";" : name + ": " + value);
  add("Expect:");  // no 100-continue round trip
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, list.get());
  return curl_easy_perform(c);
}

HttpResponse HttpClient::send(const HttpRequest& request,
                              const std::function<void(HttpRequest&)>& sign,
                              const std::string& what, const std::function<bool()>& landed) const {
  Fd file;
  if (!request.body.file.empty()) file = open_or_throw(request.body.file, O_RDONLY);
  const bool has_body = request.method == "PUT" || request.method == "POST";
  const double start = monotonic_seconds();
  std::string last_error;
  for (int attempt = 1;; ++attempt) {
    HttpRequest r = request;
    if (sign) sign(r);
    HttpResponse response;
    response.attempts = attempt;
    Transfer t{&request.body, file.get(), 0, false, &response};

    CURL* c = thread_handle();
    CURLcode rc = perform(c, r, t, has_body, options_);
    if (rc == CURLE_OK) curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
    if (options_.trace) {
      std::string line =
          "http: " + r.method + " " + redact_url(r.url) + " attempt " + std::to_string(attempt) +
          " -> " +
          (rc == CURLE_OK ? std::to_string(response.status) : std::string(curl_easy_strerror(rc)));
      std::fprintf(stderr, "%s\n", line.c_str());
    }
    if (t.read_failed) throw_errno("cannot read " + request.body.file + " while sending it");
    bool retry = false;
    if (rc != CURLE_OK) {
      last_error = curl_easy_strerror(rc);
      if (!retryable_transport(rc))
        throw Error(Errc::kIo,
                    what + ": " + last_error + " (not retried)" + tls_hint(rc, options_));
      retry = true;
    } else if (RetryPolicy::retryable_status(response.status)) {
      retry = true;
    }
    if (!retry) return response;
    if (landed && landed()) {
      HttpResponse done;
      done.status = 200;
      done.attempts = attempt;
      done.landed = true;
      return done;
    }
    double elapsed = monotonic_seconds() - start;
    auto delay = options_.retry.next_delay(attempt, elapsed, thread_rng());
    if (!delay) {
      if (rc == CURLE_OK) return response;  // the caller reports the final status
      char took[32];
      std::snprintf(took, sizeof took, "%.1f", elapsed);
      throw Error(Errc::kIo, what + ": " + last_error + " (gave up after " +
                                 std::to_string(attempt) + " attempts in " + took +
                                 " s) — is the endpoint reachable?");
    }
    std::this_thread::sleep_for(std::chrono::duration<double>(*delay));
  }
}

std::string redact_url(const std::string& url) {
  auto q = url.find('?');
  if (q == std::string::npos) return url;
  static const char* kSecret[] = {"sig", "signature", "x-amz-signature", "x-amz-credential",
                                  "x-amz-security-token"};
  std::string out = url.substr(0, q + 1);
  std::string rest = url.substr(q + 1);
  size_t pos = 0;
  bool first = true;
  while (pos <= rest.size()) {
    size_t amp = rest.find('&', pos);
    std::string param = rest.substr(pos, amp == std::string::npos ? std::string::npos : amp - pos);
    auto eq = param.find('=');
    std::string name = ascii_lower(param.substr(0, eq));
    bool secret = std::any_of(std::begin(kSecret), std::end(kSecret),
                              [&](const char* s) { return name == s; });
    if (!first) out.push_back('&');
    first = false;
    out += secret && eq != std::string::npos ? param.substr(0, eq) + "=REDACTED" : param;
    if (amp == std::string::npos) break;
    pos = amp + 1;
  }
  return out;
}

std::string redact_header(const std::string& name, const std::string& value) {
  std::string n = ascii_lower(name);
  bool secret = n == "authorization" || n == "x-amz-security-token" ||
                n == "x-ms-copy-source-authorization" || n == "proxy-authorization";
  return name + ": " + (secret ? std::string("REDACTED") : value);
}

}  // namespace sr::storage

// daemon/http_api.h: the daemon's HTTP server (cpp-httplib from Debian): the JSON API,
// /metrics, /healthz, /readyz and the dashboard's files (docs/daemon.md). A thin adapter: every
// answer comes from Daemon's methods.
//
// Guards, before a body is read (the pre-routing handler): a bearer token for everything but
// /healthz, /readyz and the dashboard's static files (the page itself holds no data), compared in
// constant time; bodies only with Content-Length, at most 64 KiB (Debian's cpp-httplib 0.11
// lacks upstream's later fixes for oversized and chunked requests, so chunked bodies are refused
// with 411 and large ones with 413 before the library reads them); read/write timeouts; a
// bounded worker pool. Secrets never reach the log: request lines are logged without query
// strings or headers.
#pragma once

#include <memory>
#include <string>

#include "daemon/daemon.h"

namespace sr::daemon {

struct WebAsset {
  const char* path;  // "/", "/app.js", …
  const char* content_type;
  const unsigned char* data;
  size_t size;
};
// The dashboard's files (generated at build time from web/, see CMakeLists.txt).
const WebAsset* find_web_asset(const std::string& path);

struct HttpOptions {
  std::string host = "127.0.0.1";
  int port = 8920;
  std::string token;  // required: an empty token refuses every protected request
  std::string tls_cert, tls_key;
  size_t max_body = 64 << 10;
  int threads = 16;  // idle threads cost little; each slow client holds one
};

// host:port → HttpOptions host/port; kUsage on a bad value.
void parse_listen(const std::string& listen, HttpOptions& o);

class HttpApi {
 public:
  HttpApi(Daemon& daemon, HttpOptions options, log::Logger* log);
  ~HttpApi();
  // Binds and serves on a thread of its own; throws Error{kIo} when it cannot bind. Returns the
  // bound port (options.port 0: an ephemeral one).
  int start();
  void stop();
  void set_token(std::string token);  // SIGHUP: the token file was read again

  // Constant-time comparison of "Bearer TOKEN" with the expected token.
  static bool token_matches(const std::string& header, const std::string& token);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace sr::daemon

#include "daemon/http_api.h"

#include <httplib.h>
#include <openssl/crypto.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "base/error.h"
#include "base/number.h"
#include "daemon/jobs.h"

namespace sr::daemon {

void parse_listen(const std::string& listen, HttpOptions& o) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos) throw Error(Errc::kUsage, "listen: host:port, not " + listen);
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::string port = listen.substr(colon + 1);
  char* end = nullptr;
  long p = std::strtol(port.c_str(), &end, 10);
  if (host.empty() || port.empty() || *end || p < 0 || p > 65535)
    throw Error(Errc::kUsage, "listen: host:port, not " + listen);
  o.host = host;
  o.port = static_cast<int>(p);
}

bool HttpApi::token_matches(const std::string& header, const std::string& token) {
  static const std::string kPrefix = "Bearer ";
  if (token.empty() || header.size() != kPrefix.size() + token.size() ||
      header.compare(0, kPrefix.size(), kPrefix) != 0)
    return false;
  return CRYPTO_memcmp(header.data() + kPrefix.size(), token.data(), token.size()) == 0;
}

struct HttpApi::Impl {
  Daemon& daemon;
  HttpOptions opt;
  log::Logger* log;
  std::unique_ptr<httplib::Server> server;
  std::thread thread;
  std::mutex token_mu;
  std::string token;

  Impl(Daemon& d, HttpOptions o, log::Logger* l) : daemon(d), opt(std::move(o)), log(l) {
    token = opt.token;
  }

  static void json(httplib::Response& res, int status, const nlohmann::json& body) {
    res.status = status;
    res.set_content(body.dump(), "application/json");
  }
  static void error(httplib::Response& res, int status, const std::string& message) {
    json(res, status, {{"error", message}});
  }
  static size_t limit_param(const httplib::Request& req, size_t dflt) {
    if (!req.has_param("limit")) return dflt;
    const std::string v = req.get_param_value("limit");
    char* end = nullptr;
    long n = std::strtol(v.c_str(), &end, 10);
    if (v.empty() || *end || n < 1) return dflt;
    return static_cast<size_t>(std::min<long>(n, 100000));
  }

  bool is_public(const httplib::Request& req) const {
    if (req.path == "/healthz" || req.path == "/readyz") return true;
    return req.method == "GET" && find_web_asset(req.path) != nullptr;
  }

  // Refuses a request whose body is not read, and ends the connection after the answer: on a
  // kept-alive connection the unread body would be taken for the next request. cpp-httplib 0.11
  // keeps a connection open whatever the response's Connection header says; it closes it when a
  // content provider fails, so the answer is written by one that then reports failure.
  static void refuse_and_close(httplib::Response& res, int status, const std::string& message) {
    res.status = status;
    res.set_header("Connection", "close");
    auto body = std::make_shared<std::string>(nlohmann::json{{"error", message}}.dump());
    res.set_content_provider(body->size(), "application/json",
                             [body](size_t offset, size_t length, httplib::DataSink& sink) {
                               sink.write(body->data() + offset, length);
                               return false;  // the answer is out: close the connection
                             });
  }

  httplib::Server::HandlerResponse guard(const httplib::Request& req, httplib::Response& res) {
    // Bodies: Content-Length only, bounded; refused before the library reads them (it would read
    // a chunked body, or one without a length, without bound).
    const bool body_method = req.method == "POST" || req.method == "PUT" || req.method == "PATCH" ||
                             req.method == "DELETE" || req.method == "PRI";
    if (req.has_header("Transfer-Encoding")) {
      refuse_and_close(res, 411,
                       "send the body with Content-Length (chunked bodies are not accepted)");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (body_method && !req.has_header("Content-Length")) {
      refuse_and_close(res, 411, "a request with a body needs Content-Length");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.get_header_value_count("Content-Length") > 1) {
      refuse_and_close(res, 400, "more than one Content-Length");
      return httplib::Server::HandlerResponse::Handled;
    }
    if (req.has_header("Content-Length")) {
      const std::string cl = req.get_header_value("Content-Length");
      if (cl.empty() || cl.size() > 18 || cl.find_first_not_of("0123456789") != std::string::npos) {
        refuse_and_close(res, 400, "Content-Length is not a number");
        return httplib::Server::HandlerResponse::Handled;
      }
      if (std::stoull(cl) > opt.max_body) {
        refuse_and_close(res, 413,
                         "the body is larger than " + std::to_string(opt.max_body) + " bytes");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    if (is_public(req)) return httplib::Server::HandlerResponse::Unhandled;
    std::string expected;
    {
      std::lock_guard lock(token_mu);
      expected = token;
    }
    if (!HttpApi::token_matches(req.get_header_value("Authorization"), expected)) {
      res.set_header("WWW-Authenticate", "Bearer realm=\"strongroom\"");
      error(res, 401, "a bearer token is needed (Authorization: Bearer TOKEN)");
      return httplib::Server::HandlerResponse::Handled;
    }
    return httplib::Server::HandlerResponse::Unhandled;
  }

  void routes() {
    auto& s = *server;
    s.set_pre_routing_handler(
        [this](const httplib::Request& req, httplib::Response& res) { return guard(req, res); });
    s.set_payload_max_length(opt.max_body);
    // Per receive/send (cpp-httplib 0.11 has no deadline for a whole request): short, so that
    // slow clients hold a worker briefly.
    s.set_read_timeout(5, 0);
    s.set_write_timeout(5, 0);
    s.set_tcp_nodelay(true);  // else Nagle and delayed ACKs add ~40 ms to each small answer
    s.set_keep_alive_max_count(1000);
    s.set_keep_alive_timeout(3);
    s.set_exception_handler(
        [this](const httplib::Request&, httplib::Response& res, std::exception_ptr ep) {
          try {
            std::rethrow_exception(ep);
          } catch (const Error& e) {
            error(res,
                  e.code() == Errc::kUsage      ? 400
                  : e.code() == Errc::kNotFound ? 404
                                                : 500,
                  e.what());
          } catch (const std::exception& e) {
            if (log) log->warn("http", e.what());
            error(res, 500, "internal error");
          }
        });
    s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("ok\n", "text/plain");
    });
    s.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      bool ready = daemon.ready();
      res.status = ready ? 200 : 503;
      res.set_content(ready ? "ready\n" : "loading the catalog\n", "text/plain");
    });
    s.Get("/api/status", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(daemon.status_body(), "application/json");
    });
    s.Get("/api/backups", [this](const httplib::Request& req, httplib::Response& res) {
      json(res, 200, daemon.backups_json(req.get_param_value("source"), limit_param(req, 500)));
    });
    s.Get("/api/jobs", [this](const httplib::Request& req, httplib::Response& res) {
      json(res, 200, daemon.jobs_json(req.get_param_value("source"), limit_param(req, 100)));
    });
    s.Get(R"(/api/jobs/(\d{1,18})/log)",
          [this](const httplib::Request& req, httplib::Response& res) {
            auto text = daemon.job_log(std::stoll(req.matches[1].str()));
            if (!text) return error(res, 404, "no such job");
            res.set_content(*text, "text/plain; charset=utf-8");
          });
    s.Get("/api/restore-tests", [this](const httplib::Request& req, httplib::Response& res) {
      json(res, 200,
           daemon.restore_tests_json(req.get_param_value("source"), limit_param(req, 200)));
    });
    s.Get("/api/alerts", [this](const httplib::Request&, httplib::Response& res) {
      json(res, 200, daemon.alerts_json());
    });
    s.Get("/api/repositories", [this](const httplib::Request&, httplib::Response& res) {
      json(res, 200, daemon.repositories_json());
    });
    s.Post("/api/jobs", [this](const httplib::Request& req, httplib::Response& res) {
      JobRequest r = parse_job_request(req.body);  // kUsage → 400 (the exception handler)
      json(res, 202, {{"id", daemon.request_job(r.job, r.source, r.type)}});
    });
    s.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(daemon.metrics_body(), "text/plain; version=0.0.4; charset=utf-8");
    });
    auto asset = [](const httplib::Request& req, httplib::Response& res) {
      const WebAsset* a = find_web_asset(req.path);
      if (!a) return error(res, 404, "not found");
      res.set_header("Cache-Control", "no-cache");
      res.set_header("X-Content-Type-Options", "nosniff");
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' "
                     "data:; connect-src 'self'; base-uri 'none'; form-action 'none'; "
                     "frame-ancestors 'none'");
      res.set_content(reinterpret_cast<const char*>(a->data), a->size, a->content_type);
    };
    s.Get("/", asset);
    s.Get(R"(/[A-Za-z0-9_.\-]+)", asset);
    s.set_logger([this](const httplib::Request& req, const httplib::Response& res) {
      if (log && (res.status >= 400 || req.method != "GET"))
        log->info("http", req.method + " " + req.path + " " + std::to_string(res.status));
    });
  }
};

HttpApi::HttpApi(Daemon& daemon, HttpOptions options, log::Logger* log)
    : impl_(std::make_unique<Impl>(daemon, std::move(options), log)) {}

HttpApi::~HttpApi() { stop(); }

void HttpApi::set_token(std::string token) {
  std::lock_guard lock(impl_->token_mu);
  impl_->token = std::move(token);
}

int HttpApi::start() {
  auto& o = impl_->opt;
  if (!o.tls_cert.empty()) {
    auto tls = std::make_unique<httplib::SSLServer>(o.tls_cert.c_str(), o.tls_key.c_str());
    if (!tls->is_valid())
      throw Error(Errc::kUsage,
                  "cannot load the TLS certificate or key (server.tls_cert, "
                  "server.tls_key)");
    impl_->server = std::move(tls);
  } else {
    impl_->server = std::make_unique<httplib::Server>();
  }
  const int threads = o.threads;
  impl_->server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  impl_->routes();
  int port = o.port;
  if (port == 0) {
    port = impl_->server->bind_to_any_port(o.host);
    if (port < 0) throw Error(Errc::kIo, "cannot listen on " + o.host);
  } else if (!impl_->server->bind_to_port(o.host, port)) {
    throw Error(Errc::kIo, "cannot listen on " + o.host + ":" + std::to_string(port) +
                               " (in use, or not an address of this host)");
  }
  impl_->thread = std::thread([this] { impl_->server->listen_after_bind(); });
  return port;
}

void HttpApi::stop() {
  if (impl_ && impl_->server) impl_->server->stop();
  if (impl_ && impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace sr::daemon

#include "storage/http_client.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <functional>
#include <string>
#include <thread>

#include "base/error.h"
#include "testing/temp_dir.h"

namespace sr::storage {
namespace {

// A loopback HTTP/1.1 server in a thread: `reply(n, request_head, body)` returns the raw
// response for the n-th request (1-based), or "" to close the connection without answering.
class TinyServer {
 public:
  using Reply = std::function<std::string(int, const std::string&, const std::string&)>;
  explicit TinyServer(Reply reply) : reply_(std::move(reply)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 16);
    thread_ = std::jthread([this](std::stop_token st) { serve(st); });
  }
  ~TinyServer() {
    thread_.request_stop();
    ::shutdown(fd_, SHUT_RDWR);
    if (int c = client_.load(); c >= 0) ::shutdown(c, SHUT_RDWR);  // a kept-alive connection
    ::close(fd_);
  }
  std::string url(const std::string& path) const {
    return "http://127.0.0.1:" + std::to_string(port_) + path;
  }
  int requests() const { return count_; }

 private:
  void serve(const std::stop_token& st) {
    while (!st.stop_requested()) {
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) return;
      client_ = c;
      std::string buf;
      for (;;) {
        size_t end;
        while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
          char tmp[65536];
          ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
          if (n <= 0) break;
          buf.append(tmp, static_cast<size_t>(n));
        }
        if (end == std::string::npos) break;
        std::string head = buf.substr(0, end + 4);
        size_t length = 0;
        if (auto p = head.find("Content-Length: "); p != std::string::npos)
          length = std::stoul(head.substr(p + 16));
        while (buf.size() < end + 4 + length) {
          char tmp[65536];
          ssize_t n = ::recv(c, tmp, sizeof tmp, 0);
          if (n <= 0) break;
          buf.append(tmp, static_cast<size_t>(n));
        }
        std::string body = buf.substr(end + 4, length);
        buf.erase(0, end + 4 + length);
        std::string out = reply_(++count_, head, body);
        if (out.empty()) break;  // drop the connection
        ::send(c, out.data(), out.size(), MSG_NOSIGNAL);
      }
      client_ = -1;
      ::close(c);
    }
  }
  Reply reply_;
  int fd_ = -1;
  int port_ = 0;
  std::atomic<int> count_{0};
  std::atomic<int> client_{-1};
  std::jthread thread_;
};

std::string response(int status, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) +
         " X\r\nContent-Length: " + std::to_string(body.size()) + "\r\nX-Test: yes\r\n\r\n" + body;
}

HttpSettings fast_options() {
  HttpSettings o;
  o.retry.budget_seconds = 10;
  o.retry.initial_delay = 0.01;
  o.retry.max_delay = 0.05;
  o.stall_seconds = 2;
  return o;
}

TEST(HttpClient, Retries503TwiceThenSucceeds) {
  TinyServer server([](int n, const std::string&, const std::string&) {
    return n <= 2 ? response(503, "<Error><Code>SlowDown</Code></Error>") : response(200, "ok");
  });
  HttpClient client(fast_options());
  int signs = 0;
  HttpResponse r = client.send(
      {"GET", server.url("/x"), {}, {}}, [&](HttpRequest&) { ++signs; }, "test: GET x");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(std::string(r.body.begin(), r.body.end()), "ok");
  EXPECT_EQ(r.attempts, 3);
  EXPECT_EQ(signs, 3);  // every attempt is signed afresh
  EXPECT_EQ(r.header("x-test"), "yes");
}

TEST(HttpClient, RetriesDroppedConnections) {
  TinyServer server([](int n, const std::string&, const std::string&) {
    return n == 1 ? std::string() : response(200, "fine");
  });
  HttpClient client(fast_options());
  HttpResponse r = client.send({"GET", server.url("/x"), {}, {}}, nullptr, "test: GET x");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.attempts, 2);
}

TEST(HttpClient, DoesNotRetry403) {
  TinyServer server(
      [](int, const std::string&, const std::string&) { return response(403, "denied"); });
  HttpClient client(fast_options());
  HttpResponse r = client.send({"GET", server.url("/x"), {}, {}}, nullptr, "test: GET x");
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(server.requests(), 1);
}

TEST(HttpClient, GivesUpWithinTheBudget) {
  TinyServer server(
      [](int, const std::string&, const std::string&) { return response(500, "always"); });
  HttpSettings o = fast_options();
  o.retry.budget_seconds = 0.5;
  HttpClient client(o);
  HttpResponse r = client.send({"GET", server.url("/x"), {}, {}}, nullptr, "test: GET x");
  EXPECT_EQ(r.status, 500);
  EXPECT_GT(r.attempts, 2);
}

TEST(HttpClient, RefusedConnectionIsAnIoErrorNamingTheOperation) {
  int port;
  {
    TinyServer s([](int, const std::string&, const std::string&) { return std::string(); });
    port = std::stoi(s.url("").substr(17));
  }
  HttpSettings o = fast_options();
  o.retry.budget_seconds = 0.2;
  HttpClient client(o);
  try {
    client.send({"GET", "http://127.0.0.1:" + std::to_string(port) + "/x", {}, {}}, nullptr,
                "test: GET x");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kIo);
    EXPECT_NE(std::string(e.what()).find("test: GET x"), std::string::npos) << e.what();
  }
}

TEST(HttpClient, StreamsAFileRangeAsTheBody) {
  testing::TempDir dir;
  std::string path = dir / "body";
  std::string content;
  for (int i = 0; i < 300000; ++i) content += static_cast<char>('a' + i % 26);
  std::ofstream(path) << content;
  std::string received;
  TinyServer server([&](int, const std::string& head, const std::string& body) {
    received = body;
    EXPECT_NE(head.find("PUT /obj"), std::string::npos);
    return response(201, "");
  });
  HttpClient client(fast_options());
  HttpRequest req{"PUT", server.url("/obj"), {{"X-Custom", "1"}}, {}};
  req.body.file = path;
  req.body.offset = 1000;
  req.body.length = 200000;
  HttpResponse r = client.send(req, nullptr, "test: PUT obj");
  EXPECT_EQ(r.status, 201);
  EXPECT_EQ(received, content.substr(1000, 200000));
}

TEST(HttpClient, RedactsSecrets) {
  EXPECT_EQ(redact_url("https://a.blob.core.windows.net/c/b?comp=block&sv=2021&sig=abc%2Fdef&se=x"),
            "https://a.blob.core.windows.net/c/b?comp=block&sv=2021&sig=REDACTED&se=x");
  EXPECT_EQ(redact_url("http://h/b?X-Amz-Signature=ff&X-Amz-Credential=AK"),
            "http://h/b?X-Amz-Signature=REDACTED&X-Amz-Credential=REDACTED");
  EXPECT_EQ(redact_header("Authorization", "SharedKey acct:sig"), "Authorization: REDACTED");
  EXPECT_EQ(redact_header("x-ms-date", "Tue"), "x-ms-date: Tue");
}

TEST(RetryPolicy, FullJitterBoundedByBudget) {
  RetryPolicy p;
  p.budget_seconds = 5;
  p.initial_delay = 1;
  p.max_delay = 4;
  std::mt19937_64 rng(1);
  for (int i = 0; i < 100; ++i) {
    auto d = p.next_delay(3, 0, rng);
    ASSERT_TRUE(d);
    EXPECT_GE(*d, 0);
    EXPECT_LE(*d, 4);
  }
  EXPECT_FALSE(p.next_delay(1, 5.0, rng));
  EXPECT_TRUE(RetryPolicy::retryable_status(503));
  EXPECT_TRUE(RetryPolicy::retryable_status(429));
  EXPECT_TRUE(RetryPolicy::retryable_status(408));
  EXPECT_FALSE(RetryPolicy::retryable_status(403));
  EXPECT_FALSE(RetryPolicy::retryable_status(404));
  EXPECT_FALSE(RetryPolicy::retryable_status(412));
}

}  // namespace
}  // namespace sr::storage

namespace sr::storage {
namespace {

TEST(ContentLength, ParsesPlainDecimalSizes) {
  EXPECT_EQ(parse_content_length("0", "HEAD x"), 0u);
  EXPECT_EQ(parse_content_length("123456", "HEAD x"), 123456u);
  EXPECT_EQ(parse_content_length("18446744073709551615", "HEAD x"), UINT64_MAX);
}

TEST(ContentLength, HostileValuesAreClearTransientErrors) {
  for (const char* bad : {"", "-1", "+5", " 5", "5 ", "12abc", "abc", "0x10",
                          "18446744073709551616", "99999999999999999999999"}) {
    try {
      parse_content_length(bad, "HEAD x");
      ADD_FAILURE() << "accepted '" << bad << "'";
    } catch (const Error& e) {
      EXPECT_EQ(e.code(), Errc::kTransient) << bad;
      EXPECT_NE(std::string(e.what()).find("Content-Length"), std::string::npos);
    }
  }
  HttpResponse r;
  EXPECT_THROW(r.content_length("HEAD x"), Error);  // absent
  r.headers.push_back({"content-length", "42"});
  EXPECT_EQ(r.content_length("HEAD x"), 42u);
}

}  // namespace
}  // namespace sr::storage

namespace sr::storage {
namespace {

TEST(HttpClient, ParsesResponseHeaderLines) {
  HeaderList h;
  parse_response_header_line("HTTP/1.1 100 Continue\r\n", h);
  parse_response_header_line("X-Early: 1\r\n", h);
  parse_response_header_line("HTTP/1.1 200 OK\r\n", h);  // a new response: earlier headers go
  parse_response_header_line("Content-Length:   12\r\n", h);
  parse_response_header_line("ETag: \"abc\"\r\n", h);
  parse_response_header_line("x-ms-error-code:\r\n", h);
  parse_response_header_line("no colon here\r\n", h);
  parse_response_header_line("\r\n", h);
  ASSERT_EQ(h.size(), 3u);
  EXPECT_EQ(h[0], (std::pair<std::string, std::string>{"content-length", "12"}));
  EXPECT_EQ(h[1], (std::pair<std::string, std::string>{"etag", "\"abc\""}));
  EXPECT_EQ(h[2], (std::pair<std::string, std::string>{"x-ms-error-code", ""}));
}

}  // namespace
}  // namespace sr::storage

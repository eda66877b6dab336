#include "daemon/notify.h"

#include <curl/curl.h>

#include <cstring>

#include "base/error.h"
#include "base/random.h"
#include "base/time_util.h"
#include "daemon/child.h"
#include "source/child_env.h"
#include "storage/http_client.h"

namespace sr::daemon {
namespace {

void post_webhook(const config::NotifierConfig& n, const std::string& url,
                  const nlohmann::json& message, const NotifySettings& s) {
  storage::HttpSettings hs;
  hs.retry.budget_seconds = s.retry_seconds;
  hs.retry.initial_delay = 0.5;
  hs.retry.max_delay = 15;
  hs.connect_timeout_seconds = 10;
  hs.stall_seconds = s.timeout_seconds;
  hs.ca_file = s.ca_file;
  storage::HttpClient client(hs);
  std::string body = message.dump();
  storage::HttpRequest req;
  req.method = "POST";
  req.url = url;
  req.headers = {{"Content-Type", "application/json"}, {"User-Agent", "strongroom"}};
  req.body.memory = as_bytes(body);
  storage::HttpResponse r = client.send(
      req, [](storage::HttpRequest&) {}, "webhook " + n.name);
  if (r.status < 200 || r.status > 299)
    throw Error(Errc::kIo,
                "notifier " + n.name + ": the webhook answered HTTP " + std::to_string(r.status));
}

void run_command(const config::NotifierConfig& n, const nlohmann::json& message,
                 const NotifySettings& s) {
  ChildOptions o;
  o.argv = {"/bin/sh", "-c", n.command};
  o.env = source::child_environment(source::ChildKind::kCommand);
  o.stdin_text = message.dump() + "\n";
  auto child = Child::start(o);
  auto done = child->wait(std::chrono::seconds(s.timeout_seconds));
  if (!done) {
    child->kill();
    child->wait();
    throw Error(Errc::kIo, "notifier " + n.name + ": the command did not finish within " +
                               std::to_string(s.timeout_seconds) + " s");
  }
  if (done->exit_code != 0) {
    std::string err = done->err.substr(0, 300);
    while (!err.empty() && (err.back() == '\n' || err.back() == '\r')) err.pop_back();
    throw Error(Errc::kIo, "notifier " + n.name + ": the command exited with " +
                               (done->signal ? "signal " + std::to_string(done->signal)
                                             : "status " + std::to_string(done->exit_code)) +
                               (err.empty() ? "" : ": " + err));
  }
}

struct Upload {
  const std::string* text;
  size_t pos = 0;
};

size_t read_upload(char* buf, size_t size, size_t n, void* p) {
  auto* u = static_cast<Upload*>(p);
  size_t len = std::min(size * n, u->text->size() - u->pos);
  std::memcpy(buf, u->text->data() + u->pos, len);
  u->pos += len;
  return len;
}

void send_email(const config::NotifierConfig& n, const nlohmann::json& message,
                const NotifySettings& s, const SecretReader& secrets) {
  const auto& e = *n.email;
  std::string text = email_text(e, message, now_ns());
  std::string user =
      e.username.empty() ? "" : secrets(e.username, "notifier " + n.name + " username");
  std::string pass =
      e.password.empty() ? "" : secrets(e.password, "notifier " + n.name + " password");
  CURL* c = curl_easy_init();
  if (!c) throw Error(Errc::kIo, "notifier " + n.name + ": cannot start libcurl");
  curl_slist* rcpt = nullptr;
  for (const auto& to : e.to) rcpt = curl_slist_append(rcpt, ("<" + to + ">").c_str());
  Upload up{&text};
  std::string from = "<" + e.from + ">";
  curl_easy_setopt(c, CURLOPT_URL, e.smtp_url.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_FROM, from.c_str());
  curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(c, CURLOPT_READFUNCTION, read_upload);
  curl_easy_setopt(c, CURLOPT_READDATA, &up);
  curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
  // With credentials, smtp:// must upgrade (STARTTLS) or fail: a password never goes in clear.
  // Without, a server that offers no STARTTLS still gets the message (a local relay).
  const bool secret = !user.empty() || !pass.empty();
  curl_easy_setopt(c, CURLOPT_USE_SSL, static_cast<long>(secret ? CURLUSESSL_ALL : CURLUSESSL_TRY));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, s.timeout_seconds);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (!s.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, s.ca_file.c_str());
  if (!user.empty()) curl_easy_setopt(c, CURLOPT_USERNAME, user.c_str());
  if (!pass.empty()) curl_easy_setopt(c, CURLOPT_PASSWORD, pass.c_str());
  CURLcode rc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(c);
  if (rc != CURLE_OK)
    throw Error(Errc::kIo, "notifier " + n.name + ": SMTP: " + curl_easy_strerror(rc) +
                               (code ? " (server answered " + std::to_string(code) + ")" : ""));
}

}  // namespace

std::string email_text(const config::NotifierConfig::Email& e, const nlohmann::json& m,
                       int64_t now) {
  std::string severity = m.value("severity", "");
  std::string event = m.value("event", "");
  std::string subject = "[strongroom] " + std::string(event == "resolved" ? "RESOLVED" : "FIRING") +
                        " " + severity + " " + m.value("rule", "") + " " + m.value("source", "");
  std::string to;
  for (const auto& t : e.to) to += (to.empty() ? "" : ", ") + t;
  std::string date = format_rfc3339(now);
  // RFC 5322 wants an RFC 2822 date; the RFC 3339 form is in the body. Header values come from
  // our own rule names and the configuration; CR/LF are removed from every one of them.
  auto clean = [](std::string v) {
    for (char& ch : v)
      if (ch == '\r' || ch == '\n') ch = ' ';
    return v;
  };
  std::string msg_id = "<" + to_hex(random_bytes(12)) + "@strongroom>";
  std::string text = "From: " + clean(e.from) + "\r\nTo: " + clean(to) +
                     "\r\nSubject: " + clean(subject) + "\r\nMessage-ID: " + msg_id +
                     "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
  std::string body =
      m.value("summary", "") + "\n\nsince: " + m.value("since", "") +
      (m.contains("resolved_at") ? "\nresolved: " + m.value("resolved_at", "") : "") +
      "\nhost: " + m.value("host", "") + "\nsent: " + date + "\n\n" + m.dump(2) + "\n";
  // CRLF line ends, and dot-stuffing is libcurl's job for SMTP uploads.
  for (size_t i = 0; i < body.size(); ++i) {
    if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r')) {
      body.insert(i, "\r");
      ++i;
    }
  }
  return text + body;
}

void deliver(const config::NotifierConfig& n, const nlohmann::json& message,
             const NotifySettings& settings, const SecretReader& secrets) {
  if (!n.command.empty()) return run_command(n, message, settings);
  if (n.email) return send_email(n, message, settings, secrets);
  std::string url = n.webhook_url;
  if (url.empty()) {
    url = secrets(config::SecretRef{n.webhook_url_file, ""}, "notifier " + n.name + " url_file");
    if (url.rfind("http://", 0) != 0 && url.rfind("https://", 0) != 0)
      throw Error(Errc::kUsage, "notifier " + n.name + ": url_file does not hold an http(s) URL");
  }
  post_webhook(n, url, message, settings);
}

}  // namespace sr::daemon

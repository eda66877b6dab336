// daemon/notify.h: delivering an alert message to a notifier (config::NotifierConfig):
//   webhook  a JSON POST (storage::HttpClient: retried with backoff on 5xx, 429 and transport
//            failures for up to `retry_seconds`); any 2xx is delivered;
//   command  `/bin/sh -c COMMAND` with the message as JSON on standard input and the restricted
//            child environment (source/child_env.h); exit 0 is delivered;
//   email    SMTP (smtp:// with STARTTLS when offered, smtps://) through libcurl; the subject
//            names severity, rule and source, the body is the summary and the message as JSON.
// Errors are logged by the caller with the notifier's name; a webhook URL is never logged (it
// may carry a token).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "config/config.h"

namespace sr::daemon {

struct NotifySettings {
  double retry_seconds = 10;  // short: the refresher (and SIGTERM) waits for it; an undelivered
                              // message is sent again at the next refresh
  long timeout_seconds = 10;
  std::string ca_file;  // "" = the system's CAs
};

// Throws Error (kIo, kUsage) naming the notifier when the message could not be delivered.
// `secrets` resolves *_file/*_env references (app/ supplies it; this layer reads no environment).
using SecretReader = std::function<std::string(const config::SecretRef&, const std::string& what)>;
void deliver(const config::NotifierConfig& n, const nlohmann::json& message,
             const NotifySettings& settings, const SecretReader& secrets);

// The e-mail as sent (headers and body, CRLF line ends): for the SMTP upload and for tests.
std::string email_text(const config::NotifierConfig::Email& e, const nlohmann::json& message,
                       int64_t now_ns);

}  // namespace sr::daemon

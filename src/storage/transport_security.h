// storage/transport_security.h: TLS policy of the object-store backends.
//
// Certificate verification is always on (libcurl's default; nothing here or in http_client.cc
// switches it off). What can be chosen is the set of trusted CAs: HttpSettings::ca_file (the CLI's
// --ca-file, or AWS_CA_BUNDLE / SSL_CERT_FILE) replaces the system bundle for every request
// (CURLOPT_CAINFO). check_ca_file() is run when a backend is opened, before any request, so a
// missing or unreadable bundle is a clear kUsage error instead of a TLS failure on the first call.
//
// A plain http:// endpoint is accepted (emulators and local gateways), but on a host that is not
// loopback (127.0.0.0/8, ::1, localhost) the credentials that travel with each request (an S3
// session token and signatures, an Azure SAS token or Shared Key signatures) and all metadata go
// over the network in clear: warn_if_plain_http() then logs a warning, once per process and
// endpoint. Thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "base/log.h"
#include "storage/settings.h"
#include "storage/url.h"

namespace sr::storage {

// True for a loopback host: "localhost" (any case, optional trailing dot), an IPv4 address in
// 127.0.0.0/8, "::1" (bracketed as in a URL: "[::1]") or an IPv4-mapped ::ffff:127.x.y.z.
// `host` may carry a port ("127.0.0.1:9000", "[::1]:9000"). Names that merely resolve to
// loopback (e.g. via /etc/hosts) are not loopback here: no name lookup is done.
bool is_loopback_host(std::string_view host);

// The warning for `endpoint` when it is plain http:// to a non-loopback host, else "".
// `service` names the backend ("s3", "azure"); `in_clear` says what travels unprotected.
std::string plain_http_warning(const Endpoint& endpoint, const std::string& service,
                               const std::string& in_clear);

// Logs plain_http_warning() on `log` (component "storage") the first time this process meets
// the endpoint (scheme://host); later calls for the same endpoint are silent.
void warn_if_plain_http(const Endpoint& endpoint, const std::string& service,
                        const std::string& in_clear, log::Logger& log);

// Throws Errc::kUsage when http.ca_file is set but is not a readable regular file (the message
// names the file and where the setting came from, http.ca_file_from). Nothing when unset.
void check_ca_file(const HttpSettings& http);

}  // namespace sr::storage

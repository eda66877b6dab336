#include "storage/transport_security.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>
#include <set>

#include "base/error.h"

namespace sr::storage {
namespace {

// "host:port" → "host"; "[v6]:port" or "[v6]" → "v6".
std::string strip_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    auto close = host.find(']');
    if (close == std::string_view::npos) return "";  // malformed: not loopback
    return std::string(host.substr(1, close - 1));
  }
  // An unbracketed host with more than one ':' is a bare IPv6 address (no port possible).
  auto colon = host.find(':');
  if (colon != std::string_view::npos && host.find(':', colon + 1) == std::string_view::npos)
    host = host.substr(0, colon);
  return std::string(host);
}

bool is_loopback_v4(const in_addr& a) { return (ntohl(a.s_addr) >> 24) == 127; }

}  // namespace

bool is_loopback_host(std::string_view host_port) {
  std::string host = ascii_lower(strip_port(host_port));
  if (!host.empty() && host.back() == '.') host.pop_back();
  if (host == "localhost") return true;
  in_addr v4{};
  // inet_pton accepts only the dotted-quad form (no "127.1", no octal), as wanted here.
  if (::inet_pton(AF_INET, host.c_str(), &v4) == 1) return is_loopback_v4(v4);
  in6_addr v6{};
  if (::inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    if (IN6_IS_ADDR_LOOPBACK(&v6)) return true;
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return v6.s6_addr[12] == 127;
  }
  return false;
}

std::string plain_http_warning(const Endpoint& endpoint, const std::string& service,
                               const std::string& in_clear) {
  if (endpoint.scheme != "http" || is_loopback_host(endpoint.host)) return "";
  return service + " endpoint " + endpoint.origin() +
         " is plain HTTP to a host that is not loopback: " + in_clear +
         " travel in clear over the network (readable and replayable by anyone on the path); "
         "use an https:// endpoint";
}

void warn_if_plain_http(const Endpoint& endpoint, const std::string& service,
                        const std::string& in_clear, log::Logger& log) {
  std::string message = plain_http_warning(endpoint, service, in_clear);
  if (message.empty()) return;
  static std::mutex mu;
  static std::set<std::string> warned;
  {
    std::lock_guard lock(mu);
    if (!warned.insert(endpoint.origin()).second) return;
  }
  log.warn("storage", message);
}

void check_ca_file(const HttpSettings& http) {
  if (http.ca_file.empty()) return;
  const std::string what = "the CA bundle " + http.ca_file + " (" + http.ca_file_from + ")";
  struct stat st {};
  if (::stat(http.ca_file.c_str(), &st) != 0)
    throw Error(Errc::kUsage, "cannot use " + what + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode))
    throw Error(Errc::kUsage, "cannot use " + what + ": not a regular file");
  int fd = ::open(http.ca_file.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw Error(Errc::kUsage, "cannot use " + what + ": " + std::strerror(errno));
  char byte = 0;
  ssize_t n = ::read(fd, &byte, 1);
  int err = errno;
  ::close(fd);
  if (n < 0) throw Error(Errc::kUsage, "cannot use " + what + ": " + std::strerror(err));
  if (n == 0) throw Error(Errc::kUsage, "cannot use " + what + ": the file is empty");
}

}  // namespace sr::storage

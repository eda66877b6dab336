#include "storage/azure_shared_key.h"

#include <algorithm>
#include <ctime>
#include <map>
#include <vector>

#include "storage/digest.h"
#include "storage/url.h"

namespace sr::storage {
namespace {

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return s.substr(b, e - b + 1);
}

}  // namespace

std::string azure_string_to_sign(const AzureSignInput& in) {
  auto get = [&](const char* name) {
    for (const auto& [n, v] : in.headers)
      if (ascii_lower(n) == name) return trim(v);
    return std::string();
  };
  std::string out = in.method + "\n";
  out += get("content-encoding") + "\n";
  out += get("content-language") + "\n";
  out += (in.content_length ? std::to_string(in.content_length) : "") + "\n";
  out += get("content-md5") + "\n";
  out += get("content-type") + "\n";
  out += get("date") + "\n";
  out += get("if-modified-since") + "\n";
  out += get("if-match") + "\n";
  out += get("if-none-match") + "\n";
  out += get("if-unmodified-since") + "\n";
  out += get("range") + "\n";
  std::map<std::string, std::string> ms;
  for (const auto& [n, v] : in.headers) {
    std::string name = ascii_lower(n);
    if (name.rfind("x-ms-", 0) == 0) ms[name] = trim(v);
  }
  for (const auto& [n, v] : ms) out += n + ":" + v + "\n";
  out += "/" + in.account + in.encoded_path;
  std::map<std::string, std::vector<std::string>> params;
  for (const auto& [n, v] : in.query) params[ascii_lower(n)].push_back(v);
  for (auto& [n, values] : params) {
    std::sort(values.begin(), values.end());
    out += "\n" + n + ":";
    for (size_t i = 0; i < values.size(); ++i) out += (i ? "," : "") + values[i];
  }
  return out;
}

std::string azure_authorization(const std::string& account, ByteSpan key,
                                const std::string& string_to_sign) {
  return "SharedKey " + account + ":" +
         base64_encode(hmac_sha256_bytes(key, as_bytes(string_to_sign)));
}

std::string rfc1123_date(int64_t unix_seconds) {
  static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

}  // namespace sr::storage

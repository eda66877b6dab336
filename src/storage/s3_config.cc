#include "storage/s3_config.h"

#include <tuple>

#include "base/error.h"

namespace sr::storage {

S3Config S3Config::resolve(const std::string& url, const S3Settings& s) {
  S3Config c;
  std::tie(c.bucket, c.prefix) = split_container_url(url.substr(5), url);
  c.credentials.access_key_id = s.access_key_id;
  c.credentials.secret_access_key = s.secret_access_key;
  c.credentials.session_token = s.session_token;
  if (c.credentials.access_key_id.empty() || c.credentials.secret_access_key.empty())
    throw Error(Errc::kUsage,
                "s3: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for repository " + url);
  if (!s.region.empty()) c.region = s.region;
  if (!s.endpoint.empty()) {
    c.endpoint = parse_endpoint(s.endpoint, s.endpoint_name);
    c.custom_endpoint = true;
    c.path_style = true;
  } else if (c.bucket.find('.') != std::string::npos) {
    c.endpoint = Endpoint{"https", "s3." + c.region + ".amazonaws.com", ""};
    c.path_style = true;
  } else {
    c.endpoint = Endpoint{"https", c.bucket + ".s3." + c.region + ".amazonaws.com", ""};
  }
  return c;
}

}  // namespace sr::storage

#include "storage/s3_config.h"

#include <cstdlib>
#include <tuple>

#include "base/error.h"

namespace sr::storage {
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

S3Config S3Config::from_env(const std::string& url) {
  S3Config c;
  std::tie(c.bucket, c.prefix) = split_container_url(url.substr(5), url);
  c.credentials.access_key_id = env("AWS_ACCESS_KEY_ID");
  c.credentials.secret_access_key = env("AWS_SECRET_ACCESS_KEY");
  c.credentials.session_token = env("AWS_SESSION_TOKEN");
  if (c.credentials.access_key_id.empty() || c.credentials.secret_access_key.empty())
    throw Error(Errc::kUsage,
                "s3: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for repository " + url);
  if (std::string r = env("AWS_REGION"); !r.empty())
    c.region = r;
  else if (std::string d = env("AWS_DEFAULT_REGION"); !d.empty())
    c.region = d;
  std::string endpoint = env("AWS_ENDPOINT_URL_S3");
  const char* endpoint_var = "AWS_ENDPOINT_URL_S3";
  if (endpoint.empty()) {
    endpoint = env("AWS_ENDPOINT_URL");
    endpoint_var = "AWS_ENDPOINT_URL";
  }
  if (!endpoint.empty()) {
    c.endpoint = parse_endpoint(endpoint, endpoint_var);
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

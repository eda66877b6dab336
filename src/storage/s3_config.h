// storage/s3_config.h: where an s3:// repository lives and how to sign for it.
//
// s3://BUCKET[/PREFIX] with, from the environment (the AWS CLI's standard names):
//   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (required), AWS_SESSION_TOKEN (temporary
//   credentials), AWS_REGION or AWS_DEFAULT_REGION (default us-east-1),
//   AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL (MinIO, Ceph, s3rver, …): with an endpoint, requests
//   use path-style addressing (http://host:port/BUCKET/KEY); without, virtual-hosted style on
//   https://BUCKET.s3.REGION.amazonaws.com (path style when the bucket name contains a dot).
#pragma once

#include <string>

#include "storage/sigv4.h"
#include "storage/url.h"

namespace sr::storage {

struct S3Config {
  std::string bucket;
  std::string prefix;  // no leading or trailing '/'; "" for the bucket's root
  std::string region = "us-east-1";
  Endpoint endpoint;  // origin the requests go to
  bool custom_endpoint = false;
  bool path_style = false;
  SigV4Credentials credentials;

  // `url` is the whole repository URL ("s3://bucket/prefix"). Throws Errc::kUsage.
  static S3Config from_env(const std::string& url);
};

}  // namespace sr::storage

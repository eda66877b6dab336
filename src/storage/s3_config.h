// storage/s3_config.h: where an s3:// repository lives and how to sign for it.
//
// s3://BUCKET[/PREFIX] with S3Settings (settings.h; app/ fills them from the AWS CLI's standard
// environment variables): an access key id and secret (required), a session token (temporary
// credentials), a region (default us-east-1) and an endpoint (MinIO, Ceph, s3rver, …): with an
// endpoint, requests use path-style addressing (http://host:port/BUCKET/KEY); without,
// virtual-hosted style on https://BUCKET.s3.REGION.amazonaws.com (path style when the bucket
// name contains a dot).
#pragma once

#include <string>

#include "storage/settings.h"
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
  static S3Config resolve(const std::string& url, const S3Settings& settings);
};

}  // namespace sr::storage

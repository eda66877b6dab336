#include "storage/s3_config.h"

#include <gtest/gtest.h>

#include "base/error.h"

namespace sr::storage {
namespace {

S3Settings keys() {
  S3Settings s;
  s.access_key_id = "AK";
  s.secret_access_key = "SK";
  return s;
}

TEST(S3Config, EndpointMeansPathStyle) {
  S3Settings s = keys();
  s.endpoint = "http://127.0.0.1:9000";
  S3Config c = S3Config::resolve("s3://bucket/some/prefix/", s);
  EXPECT_EQ(c.bucket, "bucket");
  EXPECT_EQ(c.prefix, "some/prefix");
  EXPECT_EQ(c.region, "us-east-1");
  EXPECT_TRUE(c.path_style);
  EXPECT_TRUE(c.custom_endpoint);
  EXPECT_EQ(c.endpoint.origin(), "http://127.0.0.1:9000");
}

TEST(S3Config, AwsDefaultIsVirtualHosted) {
  S3Settings s = keys();
  s.region = "eu-west-1";
  S3Config c = S3Config::resolve("s3://bucket", s);
  EXPECT_FALSE(c.path_style);
  EXPECT_EQ(c.endpoint.origin(), "https://bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(c.prefix, "");
}

TEST(S3Config, DottedBucketIsPathStyleOnAws) {
  S3Config c = S3Config::resolve("s3://my.bucket/p", keys());
  EXPECT_TRUE(c.path_style);
  EXPECT_FALSE(c.custom_endpoint);
  EXPECT_EQ(c.endpoint.origin(), "https://s3.us-east-1.amazonaws.com");
}

TEST(S3Config, MissingCredentialsIsAUsageError) {
  try {
    S3Config::resolve("s3://bucket", S3Settings{});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    EXPECT_NE(std::string(e.what()).find("AWS_ACCESS_KEY_ID"), std::string::npos) << e.what();
  }
  EXPECT_THROW(S3Config::resolve("s3:///prefix", keys()), Error);
}

TEST(S3Config, BadEndpointIsNamedAsConfigured) {
  S3Settings s = keys();
  s.endpoint = "not a url";
  s.endpoint_name = "AWS_ENDPOINT_URL_S3";
  try {
    S3Config::resolve("s3://bucket", s);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    EXPECT_NE(std::string(e.what()).find("AWS_ENDPOINT_URL_S3"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sr::storage

#include "storage/s3_config.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "base/error.h"

namespace sr::storage {
namespace {

struct Env {
  explicit Env(std::initializer_list<std::pair<const char*, const char*>> vars) {
    for (auto [n, v] : vars) {
      ::setenv(n, v, 1);
      names.push_back(n);
    }
  }
  ~Env() {
    for (const char* n : names) ::unsetenv(n);
  }
  std::vector<const char*> names;
};

TEST(S3Config, EndpointMeansPathStyle) {
  Env e{{"AWS_ACCESS_KEY_ID", "AK"},
        {"AWS_SECRET_ACCESS_KEY", "SK"},
        {"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"}};
  S3Config c = S3Config::from_env("s3://bucket/some/prefix/");
  EXPECT_EQ(c.bucket, "bucket");
  EXPECT_EQ(c.prefix, "some/prefix");
  EXPECT_EQ(c.region, "us-east-1");
  EXPECT_TRUE(c.path_style);
  EXPECT_EQ(c.endpoint.origin(), "http://127.0.0.1:9000");
}

TEST(S3Config, AwsDefaultIsVirtualHosted) {
  Env e{{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"}, {"AWS_REGION", "eu-west-1"}};
  S3Config c = S3Config::from_env("s3://bucket");
  EXPECT_FALSE(c.path_style);
  EXPECT_EQ(c.endpoint.origin(), "https://bucket.s3.eu-west-1.amazonaws.com");
  EXPECT_EQ(c.prefix, "");
}

TEST(S3Config, MissingCredentialsIsAUsageError) {
  EXPECT_THROW(S3Config::from_env("s3://bucket"), Error);
  Env e{{"AWS_ACCESS_KEY_ID", "AK"}, {"AWS_SECRET_ACCESS_KEY", "SK"}};
  EXPECT_THROW(S3Config::from_env("s3:///prefix"), Error);
}

}  // namespace
}  // namespace sr::storage

// testing/object_stores.h: the object-store test servers a unit test may use, from the
// environment tests/e2e/test_storage_conformance.sh sets. Only *_test.cc files read the
// environment: they pass the C library's lookup as `env`. Dedicated names, so that a developer's
// AWS_* or AZURE_* variables never send a unit test to a real account:
//   SR_TEST_S3_ENDPOINT, SR_TEST_S3_ACCESS_KEY, SR_TEST_S3_SECRET_KEY   (s3rver)
//   SR_TEST_AZURE_CONNECTION_STRING                                      (Azurite)
// Each returns nullopt when its server is not configured: the caller GTEST_SKIP()s.
#pragma once

#include <optional>
#include <string>

#include "base/random.h"
#include "storage/settings.h"

namespace sr::testing {

using EnvFn = const char* (*)(const char*);

inline std::string env_or_empty(EnvFn env, const char* name) {
  const char* v = env(name);
  return v ? v : "";
}

inline std::optional<storage::S3Settings> test_s3_settings(EnvFn env) {
  storage::S3Settings s;
  s.endpoint = env_or_empty(env, "SR_TEST_S3_ENDPOINT");
  s.access_key_id = env_or_empty(env, "SR_TEST_S3_ACCESS_KEY");
  s.secret_access_key = env_or_empty(env, "SR_TEST_S3_SECRET_KEY");
  s.endpoint_name = "SR_TEST_S3_ENDPOINT";
  if (s.endpoint.empty() || s.access_key_id.empty()) return std::nullopt;
  return s;
}

inline std::optional<storage::AzureSettings> test_azure_settings(EnvFn env) {
  storage::AzureSettings s;
  s.connection_string = env_or_empty(env, "SR_TEST_AZURE_CONNECTION_STRING");
  if (s.connection_string.empty()) return std::nullopt;
  return s;
}

// A fresh prefix below a test bucket/container: "s3://sr-test/<tag>-<random>".
inline std::string unique_url(const std::string& scheme, const std::string& tag) {
  return scheme + "://sr-test/" + tag + "-" + random_hex(8);
}

}  // namespace sr::testing

// The expected signatures were computed independently with
// `openssl dgst -sha256 -mac HMAC -macopt hexkey:…` over the literal strings to sign below, with
// Azurite's published development key.
#include "storage/azure_shared_key.h"

#include <gtest/gtest.h>

#include <cstdlib>

#include "base/error.h"
#include "storage/azure_config.h"

namespace sr::storage {
namespace {

const char* kDevKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const char* kDate = "Wed, 25 Nov 2026 12:00:00 GMT";

TEST(AzureSharedKey, PutBlobStringToSignFollowsTheDocumentedOrder) {
  AzureSignInput in{"PUT",
                    "devstoreaccount1",
                    "/devstoreaccount1/cont/pre/config",
                    {},
                    {{"Content-Type", "application/octet-stream"},
                     {"x-ms-meta-srsha256", "abc"},
                     {"If-None-Match", "*"},
                     {"x-ms-blob-type", "BlockBlob"},
                     {"x-ms-date", kDate},
                     {"x-ms-version", "2021-08-06"}},
                    12};
  std::string sts = azure_string_to_sign(in);
  EXPECT_EQ(sts,
            "PUT\n"
            "\n"                          // Content-Encoding
            "\n"                          // Content-Language
            "12\n"                        // Content-Length
            "\n"                          // Content-MD5
            "application/octet-stream\n"  // Content-Type
            "\n"                          // Date
            "\n"                          // If-Modified-Since
            "\n"                          // If-Match
            "*\n"                         // If-None-Match
            "\n"                          // If-Unmodified-Since
            "\n"                          // Range
            "x-ms-blob-type:BlockBlob\n"
            "x-ms-date:Wed, 25 Nov 2026 12:00:00 GMT\n"
            "x-ms-meta-srsha256:abc\n"
            "x-ms-version:2021-08-06\n"
            "/devstoreaccount1/devstoreaccount1/cont/pre/config");
  EXPECT_EQ(azure_authorization("devstoreaccount1", base64_decode(kDevKey), sts),
            "SharedKey devstoreaccount1:8R51lIF/ee8uQeoiZpYXZ/W+sfWD/9jpEKzv6haF2Xs=");
}

TEST(AzureSharedKey, ListQueryIsCanonicalizedSortedAndDecoded) {
  AzureSignInput in{"GET",
                    "devstoreaccount1",
                    "/devstoreaccount1/cont",
                    {{"restype", "container"}, {"comp", "list"}, {"prefix", "pre/data/"}},
                    {{"x-ms-version", "2021-08-06"}, {"x-ms-date", kDate}},
                    0};
  std::string sts = azure_string_to_sign(in);
  EXPECT_EQ(sts,
            "GET\n\n\n\n\n\n\n\n\n\n\n\n"  // no Content-Length when there is no body
            "x-ms-date:Wed, 25 Nov 2026 12:00:00 GMT\n"
            "x-ms-version:2021-08-06\n"
            "/devstoreaccount1/devstoreaccount1/cont\n"
            "comp:list\n"
            "prefix:pre/data/\n"
            "restype:container");
  EXPECT_EQ(azure_authorization("devstoreaccount1", base64_decode(kDevKey), sts),
            "SharedKey devstoreaccount1:esfiDae045J4vxDD/Os/V5BA/r/z17baZrOXsGW0Zk8=");
}

TEST(AzureSharedKey, Rfc1123Date) {
  EXPECT_EQ(rfc1123_date(1440938160), "Sun, 30 Aug 2015 12:36:00 GMT");
}

TEST(AzureConfig, ConnectionStringValuesMayContainEquals) {
  auto m = parse_connection_string(
      "DefaultEndpointsProtocol=http;AccountName=acct;AccountKey=a2V5==;"
      "BlobEndpoint=http://127.0.0.1:10000/acct;");
  EXPECT_EQ(m["AccountKey"], "a2V5==");
  EXPECT_EQ(m["BlobEndpoint"], "http://127.0.0.1:10000/acct");
  EXPECT_EQ(m["DefaultEndpointsProtocol"], "http");
}

TEST(AzureConfig, FromConnectionStringWithSovereignSuffix) {
  AzureSettings s;
  s.connection_string =
      "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;"
      "EndpointSuffix=core.chinacloudapi.cn";
  s.account = "ignored";  // the connection string wins
  AzureConfig c = AzureConfig::resolve("azure://backups/prod/db", s);
  EXPECT_EQ(c.container, "backups");
  EXPECT_EQ(c.prefix, "prod/db");
  EXPECT_EQ(c.account, "acct");
  EXPECT_EQ(c.endpoint.origin(), "https://acct.blob.core.chinacloudapi.cn");
  EXPECT_EQ(c.endpoint.base_path, "");
}

TEST(AzureConfig, AccountWithSasAndEndpoint) {
  AzureSettings s;
  s.account = "acct";
  s.sas_token = "?sv=2021&sig=x";
  s.endpoint = "http://127.0.0.1:1234/acct/";
  AzureConfig c = AzureConfig::resolve("azure://c", s);
  EXPECT_EQ(c.sas, "sv=2021&sig=x");
  EXPECT_TRUE(c.key.empty());
  EXPECT_EQ(c.endpoint.host, "127.0.0.1:1234");
  EXPECT_EQ(c.endpoint.base_path, "/acct");
  EXPECT_EQ(c.prefix, "");
}

TEST(AzureConfig, NoCredentialsIsAUsageError) {
  try {
    AzureConfig::resolve("azure://c", AzureSettings{});
    FAIL();
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
  }
}

}  // namespace
}  // namespace sr::storage

#include "storage/transport_security.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <vector>

#include "base/error.h"
#include "storage/storage.h"
#include "testing/temp_dir.h"

namespace sr::storage {
namespace {

TEST(TransportSecurity, LoopbackHosts) {
  for (const char* h : {"localhost", "LOCALHOST", "localhost.", "localhost:9000", "127.0.0.1",
                        "127.0.0.1:10000", "127.255.255.254", "127.1.2.3:1", "[::1]", "[::1]:9000",
                        "::1", "[0:0:0:0:0:0:0:1]:80", "[::ffff:127.0.0.1]:443"})
    EXPECT_TRUE(is_loopback_host(h)) << h;
}

TEST(TransportSecurity, NonLoopbackHosts) {
  for (const char* h :
       {"192.0.2.1", "192.0.2.1:1", "10.0.0.1", "128.0.0.1", "126.255.255.255", "0.0.0.0", "[::2]",
        "[::]:80", "[::ffff:10.0.0.1]", "localhost.example.com", "mylocalhost",
        "127.0.0.1.example.com", "127.1", "0177.0.0.1", "s3.amazonaws.com", "", "[", "[::1"})
    EXPECT_FALSE(is_loopback_host(h)) << h;
}

TEST(TransportSecurity, WarningOnlyForPlainHttpToNonLoopback) {
  EXPECT_EQ(plain_http_warning(parse_endpoint("http://127.0.0.1:9000", "e"), "s3", "x"), "");
  EXPECT_EQ(plain_http_warning(parse_endpoint("http://localhost:9000/a", "e"), "s3", "x"), "");
  EXPECT_EQ(plain_http_warning(parse_endpoint("https://192.0.2.1", "e"), "s3", "x"), "");
  std::string w = plain_http_warning(parse_endpoint("http://192.0.2.1:1/devstoreaccount1", "e"),
                                     "azure", "the SAS token");
  EXPECT_NE(w.find("http://192.0.2.1:1"), std::string::npos) << w;
  EXPECT_NE(w.find("the SAS token travel in clear"), std::string::npos) << w;
}

std::vector<std::string> warnings_of(const std::string& url, const StorageSettings& s) {
  std::vector<std::string> lines;
  auto log = log::make_callback_logger(log::Format::kText, log::Level::kWarn,
                                       [&](std::string_view l) { lines.emplace_back(l); });
  (void)open_storage(url, s, log.get());
  return lines;
}

TEST(TransportSecurity, OpenStorageWarnsOncePerEndpoint) {
  StorageSettings s;
  s.s3.access_key_id = "AKID";
  s.s3.secret_access_key = "s3-secret-value";
  s.s3.endpoint = "http://192.0.2.7:9000";
  auto first = warnings_of("s3://bucket/p", s);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_NE(first[0].find("http://192.0.2.7:9000"), std::string::npos) << first[0];
  EXPECT_EQ(first[0].find("s3-secret-value"), std::string::npos) << first[0];
  EXPECT_TRUE(warnings_of("s3://bucket/other", s).empty());  // same endpoint: once per process
  s.s3.endpoint = "http://127.0.0.1:9000";
  EXPECT_TRUE(warnings_of("s3://bucket/p", s).empty());

  StorageSettings a;
  a.azure.account = "acct";
  a.azure.sas_token = "sv=1&sig=sas-secret-value";
  a.azure.endpoint = "http://192.0.2.8/acct";
  auto az = warnings_of("azure://c", a);
  ASSERT_EQ(az.size(), 1u);
  EXPECT_NE(az[0].find("SAS token"), std::string::npos) << az[0];
  EXPECT_EQ(az[0].find("sas-secret-value"), std::string::npos) << az[0];
}

void expect_ca_error(const HttpSettings& h, const std::string& part) {
  try {
    check_ca_file(h);
    FAIL() << "no error for " << h.ca_file;
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--ca-file"), std::string::npos) << e.what();
  }
}

TEST(TransportSecurity, CaFileCheck) {
  testing::TempDir dir;
  HttpSettings h;
  EXPECT_NO_THROW(check_ca_file(h));  // unset: the system bundle
  h.ca_file_from = "--ca-file";
  h.ca_file = dir / "missing.pem";
  expect_ca_error(h, "No such file");
  h.ca_file = dir.path();
  expect_ca_error(h, "not a regular file");
  h.ca_file = dir / "empty.pem";
  std::ofstream(h.ca_file).close();
  expect_ca_error(h, "empty");
  h.ca_file = dir / "ca.pem";
  std::ofstream(h.ca_file) << "-----BEGIN CERTIFICATE-----\n";
  EXPECT_NO_THROW(check_ca_file(h));
  if (::geteuid() != 0) {  // root reads anything
    ::chmod(h.ca_file.c_str(), 0);
    expect_ca_error(h, "Permission denied");
  }
}

TEST(TransportSecurity, OpenStorageChecksTheCaFileFirst) {
  testing::TempDir dir;
  StorageSettings s;
  s.s3.access_key_id = "AKID";
  s.s3.secret_access_key = "s3-secret-value";
  s.s3.endpoint = "https://127.0.0.1:1";
  s.http.ca_file = dir / "nope.pem";
  s.http.ca_file_from = "--ca-file";
  try {
    (void)open_storage("s3://bucket", s);
    FAIL() << "opened with a missing CA file";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    EXPECT_NE(std::string(e.what()).find("nope.pem"), std::string::npos) << e.what();
  }
  StorageSettings local = s;  // a local repository does not use the CA file
  EXPECT_NO_THROW((void)open_storage(dir / "repo", local));
}

}  // namespace
}  // namespace sr::storage

#include "storage/settings.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include "base/error.h"
#include "storage/storage.h"
#include "storage/transfer.h"
#include "testing/temp_dir.h"

namespace sr::storage {
namespace {

StorageSettings with_secrets() {
  StorageSettings s;
  s.s3.access_key_id = "AKIDEXAMPLE";
  s.s3.secret_access_key = "very-secret-s3-key";
  s.s3.session_token = "session-token-secret";
  s.azure.connection_string = "AccountName=a;AccountKey=c2VjcmV0LWF6dXJlLWtleQ==";
  s.azure.key = "c2VjcmV0LWF6dXJlLWtleQ==";
  s.azure.sas_token = "sv=1&sig=sas-secret";
  return s;
}

TEST(StorageSettings, DescribeNeverShowsSecrets) {
  StorageSettings s = with_secrets();
  std::string d = s.describe();
  for (const char* secret : {"very-secret-s3-key", "session-token-secret",
                             "c2VjcmV0LWF6dXJlLWtleQ==", "sas-secret", "AccountKey"})
    EXPECT_EQ(d.find(secret), std::string::npos) << secret << " in " << d;
  EXPECT_NE(d.find("secret_access_key=set"), std::string::npos) << d;
  EXPECT_NE(d.find("sas_token=set"), std::string::npos) << d;
  EXPECT_NE(StorageSettings{}.describe().find("secret_access_key=unset"), std::string::npos);
}

TEST(StorageSettings, ErrorsNameNoSecret) {
  StorageSettings s = with_secrets();
  s.s3.endpoint = "::bad endpoint";
  try {
    open_storage("s3://bucket", s);
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    EXPECT_EQ(std::string(e.what()).find("very-secret"), std::string::npos) << e.what();
  }
}

TEST(TransferSettings, ValidateRanges) {
  TransferSettings t;
  EXPECT_NO_THROW(t.validate());
  t.part_size = 1 << 20;
  EXPECT_THROW(t.validate(), Error);
  t = {};
  t.parallelism = 0;
  EXPECT_THROW(t.validate(), Error);
  t = {};
  t.list_page_size = 5001;
  EXPECT_THROW(t.validate(), Error);
  // An object store refuses bad transfer settings when it is opened.
  StorageSettings s;
  s.s3.access_key_id = "AK";
  s.s3.secret_access_key = "SK";
  s.transfer.part_size = 1;
  EXPECT_THROW(open_storage("s3://bucket", s), Error);
}

TEST(TransferSettings, StagingDirectories) {
  sr::testing::TempDir dir;
  TransferSettings t;
  t.temp_dir = dir.path();
  std::string a = make_staging_dir(t), b = make_staging_dir(t);
  EXPECT_NE(a, b);  // two storages of one process never share one
  EXPECT_EQ(a.rfind(dir / "strongroom-staging-", 0), 0u) << a;
  struct stat st;
  ASSERT_EQ(::stat(a.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0700u);
  remove_staging_dir(a, t);
  EXPECT_NE(::stat(a.c_str(), &st), 0);
  // A fixed staging directory is used as is and never removed.
  t.staging_dir = dir / "fixed";
  EXPECT_EQ(make_staging_dir(t), dir / "fixed");
  remove_staging_dir(dir / "fixed", t);
  EXPECT_EQ(::stat((dir / "fixed").c_str(), &st), 0);
}

TEST(OpenStorage, UrlsAndSettings) {
  sr::testing::TempDir dir;
  StorageSettings none;
  EXPECT_EQ(open_storage(dir / "r", none)->describe(), "local:" + (dir / "r"));
  EXPECT_EQ(open_storage("file://" + (dir / "r"), none)->describe(), "local:" + (dir / "r"));
  EXPECT_THROW(open_storage("", none), Error);
  EXPECT_THROW(open_storage("ftp://x", none), Error);
  // Object stores need their credentials in the settings, not in the environment.
  EXPECT_THROW(open_storage("s3://bucket/p", none), Error);
  EXPECT_THROW(open_storage("azure://c/p", none), Error);
  StorageSettings s = with_secrets();
  s.s3.endpoint = "http://127.0.0.1:1";
  EXPECT_EQ(open_storage("s3://bucket/p", s)->describe(), "s3://bucket/p");
  s.azure.connection_string = "";
  s.azure.account = "acct";
  EXPECT_EQ(open_storage("azure://c/p", s)->describe().rfind("azure://", 0), 0u);
}

}  // namespace
}  // namespace sr::storage

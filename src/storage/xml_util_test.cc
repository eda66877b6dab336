#include "storage/xml_util.h"

#include <gtest/gtest.h>

namespace sr::storage {
namespace {

ByteSpan b(const std::string& s) { return as_bytes(s); }

TEST(Listing, S3PageWithContinuation) {
  std::string body =
      "<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>tok</"
      "NextContinuationToken><Contents><Key>p/config</Key><Size>12</Size></Contents>"
      "<Contents><Key>other/x</Key><Size>1</Size></Contents></ListBucketResult>";
  ListPage page = parse_s3_list(b(body), "p/");
  ASSERT_EQ(page.objects.size(), 1u);  // outside the prefix: skipped
  EXPECT_EQ(page.objects[0].key, "config");
  EXPECT_EQ(page.objects[0].size, 12u);
  EXPECT_EQ(page.objects[0].mtime_ns, 0);  // no LastModified
  EXPECT_EQ(page.next, "tok");
  // Not truncated: no next page, whatever token is there.
  std::string last = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
  EXPECT_EQ(parse_s3_list(b(last), "").next, "");
}

TEST(Listing, AzurePageWithMarker) {
  std::string body =
      "<EnumerationResults><Blobs><Blob><Name>r/data/ab/ab12</Name><Properties><Content-Length>"
      "33554432</Content-Length></Properties></Blob></Blobs><NextMarker>m2</NextMarker>"
      "</EnumerationResults>";
  ListPage page = parse_azure_list(b(body), "r/");
  ASSERT_EQ(page.objects.size(), 1u);
  EXPECT_EQ(page.objects[0].key, "data/ab/ab12");
  EXPECT_EQ(page.objects[0].size, 33554432u);
  EXPECT_EQ(page.next, "m2");
}

TEST(Listing, LastModifiedTimes) {
  std::string s3 =
      "<ListBucketResult><Contents><Key>k</Key><Size>1</Size><LastModified>2026-11-30T10:00:01.000Z"
      "</LastModified></Contents><Contents><Key>j</Key><Size>1</Size><LastModified>garbage"
      "</LastModified></Contents></ListBucketResult>";
  ListPage page = parse_s3_list(b(s3), "");
  ASSERT_EQ(page.objects.size(), 2u);
  EXPECT_EQ(page.objects[0].mtime_ns, 1796032801LL * 1'000'000'000);
  EXPECT_EQ(page.objects[1].mtime_ns, 0);  // unparsable: unknown, not an error
  std::string az =
      "<EnumerationResults><Blobs><Blob><Name>k</Name><Properties><Last-Modified>Mon, 30 Nov 2026 "
      "10:00:01 GMT</Last-Modified><Content-Length>1</Content-Length></Properties></Blob></Blobs>"
      "</EnumerationResults>";
  EXPECT_EQ(parse_azure_list(b(az), "").objects.at(0).mtime_ns, 1796032801LL * 1'000'000'000);
}

TEST(Listing, HostileAnswersAreRejected) {
  auto s3 = [](const std::string& key, const std::string& size) {
    return "<ListBucketResult><Contents><Key>" + key + "</Key><Size>" + size +
           "</Size></Contents></ListBucketResult>";
  };
  EXPECT_THROW(parse_s3_list(b(s3("../../etc/passwd", "1")), ""), Error);
  EXPECT_THROW(parse_s3_list(b(s3("p/a//b", "1")), "p/"), Error);
  EXPECT_THROW(parse_s3_list(b(s3("p/x", "-1")), "p/"), Error);
  EXPECT_THROW(parse_s3_list(b(s3("p/x", "99999999999999999999999")), "p/"), Error);
  EXPECT_THROW(parse_s3_list(b(s3("p/x", "")), "p/"), Error);
  EXPECT_THROW(parse_s3_list(b("not xml"), ""), Error);
  EXPECT_THROW(parse_azure_list(b(""), ""), Error);
}

}  // namespace
}  // namespace sr::storage

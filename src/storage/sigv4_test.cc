// The expected canonical requests, strings to sign and signatures are AWS's published
// Signature Version 4 test suite (aws-sig-v4-test-suite, header form): access key AKIDEXAMPLE,
// region us-east-1, service "service", 20150830T123600Z.
#include "storage/sigv4.h"

#include <gtest/gtest.h>

namespace sr::storage {
namespace {

const char* kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
const char* kDate = "20150830T123600Z";
const char* kEmptyHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const SigV4Scope kScope{"20150830", "us-east-1", "service"};

struct Vector {
  const char* name;
  SigV4Request request;
  std::string canonical_request;
  std::string string_to_sign_hash;  // last line of the string to sign
  std::string signature;
};

HeaderList base_headers(HeaderList extra = {}) {
  HeaderList h{{"Host", "example.amazonaws.com"}};
  for (auto& e : extra) h.push_back(e);
  h.emplace_back("X-Amz-Date", kDate);
  return h;
}

std::string creq(const std::string& method, const std::string& uri, const std::string& query,
                 const std::string& headers, const std::string& signed_headers,
                 const std::string& hash = kEmptyHash) {
  return method + "\n" + uri + "\n" + query + "\n" + headers + "\n" + signed_headers + "\n" + hash;
}

const std::string kHostDate = "host:example.amazonaws.com\nx-amz-date:20150830T123600Z\n";

std::vector<Vector> vectors() {
  return {
      {"get-vanilla",
       {"GET", "/", {}, base_headers(), kEmptyHash},
       creq("GET", "/", "", kHostDate, "host;x-amz-date"),
       "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63",
       "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-query-order-key-case",
       {"GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}}, base_headers(), kEmptyHash},
       creq("GET", "/", "Param1=value1&Param2=value2", kHostDate, "host;x-amz-date"),
       "816cd5b414d056048ba4f7c5386d6e0533120fb1fcfa93762cf0fc39e2cf19e0",
       "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-utf8-query",
       {"GET", "/", {{"\xe1\x88\xb4", "bar"}}, base_headers(), kEmptyHash},
       creq("GET", "/", "%E1%88%B4=bar", kHostDate, "host;x-amz-date"),
       "eb30c5bed55734080471a834cc727ae56beb50e5f39d1bff6d0d38cb192a7073",
       "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"get-header-key-duplicate",
       {"GET",
        "/",
        {},
        base_headers(
            {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}),
        kEmptyHash},
       creq("GET", "/", "",
            "host:example.amazonaws.com\nmy-header1:value2,value2,value1\n"
            "x-amz-date:20150830T123600Z\n",
            "host;my-header1;x-amz-date"),
       "dc7f04a3abfde8d472b0ab1a418b741b7c67174dad1551b4117b15527fbe966c",
       "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      {"get-header-value-trim",
       {"GET",
        "/",
        {},
        base_headers({{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}),
        kEmptyHash},
       creq("GET", "/", "",
            "host:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
            "x-amz-date:20150830T123600Z\n",
            "host;my-header1;my-header2;x-amz-date"),
       "a726db9b0df21c14f559d0a978e563112acb1b9e05476f0a6a1c7d68f28605c7",
       "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      {"get-unreserved",
       {"GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        {},
        base_headers(),
        kEmptyHash},
       creq("GET", "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", "",
            kHostDate, "host;x-amz-date"),
       "6a968768eefaa713e2a6b16b589a8ea192661f098f37349f4e2c0082757446f9",
       "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      {"get-utf8",
       {"GET", "/\xe1\x88\xb4", {}, base_headers(), kEmptyHash},
       creq("GET", "/%E1%88%B4", "", kHostDate, "host;x-amz-date"),
       "2a0a97d02205e45ce2e994789806b19270cfbbb0921b278ccf58f5249ac42102",
       "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
      {"get-space-unnormalized",
       {"GET", "/example space/", {}, base_headers(), kEmptyHash},
       creq("GET", "/example%20space/", "", kHostDate, "host;x-amz-date"),
       "63ee75631ed7234ae61b5f736dfc7754cdccfedbff4b5128a915706ee9390d86",
       "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
      {"get-slashes-unnormalized",
       {"GET", "//example//", {}, base_headers(), kEmptyHash},
       creq("GET", "//example//", "", kHostDate, "host;x-amz-date"),
       "528ec3105ee1f34ab014bb0a1a45da0ed2742a4fea3555149e5b4d5d201eb240",
       "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5"},
      {"post-vanilla",
       {"POST", "/", {}, base_headers(), kEmptyHash},
       creq("POST", "/", "", kHostDate, "host;x-amz-date"),
       "553f88c9e4d10fc9e109e2aeb65f030801b70c2f6468faca261d401ae622fc87",
       "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-vanilla-query",
       {"POST", "/", {{"Param1", "value1"}}, base_headers(), kEmptyHash},
       creq("POST", "/", "Param1=value1", kHostDate, "host;x-amz-date"),
       "9d659678c1756bb3113e2ce898845a0a79dbbc57b740555917687f1b3340fbbd",
       "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-header-key-sort",
       {"POST", "/", {}, base_headers({{"My-Header1", "value1"}}), kEmptyHash},
       creq("POST", "/", "",
            "host:example.amazonaws.com\nmy-header1:value1\nx-amz-date:20150830T123600Z\n",
            "host;my-header1;x-amz-date"),
       "9368318c2967cf6de74404b30c65a91e8f6253e0a8659d6d5319f1a812f87d65",
       "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-x-www-form-urlencoded",
       {"POST",
        "/",
        {},
        {{"Content-Type", "application/x-www-form-urlencoded"},
         {"Host", "example.amazonaws.com"},
         {"Content-Length", "13"},
         {"X-Amz-Date", kDate},
         {"X-Amz-Content-Sha256",
          "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"}},
        "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"},
       creq("POST", "/", "",
            "content-length:13\ncontent-type:application/x-www-form-urlencoded\n"
            "host:example.amazonaws.com\n"
            "x-amz-content-sha256:"
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n"
            "x-amz-date:20150830T123600Z\n",
            "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"),
       "b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb",
       "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"},
  };
}

TEST(SigV4, AwsTestSuiteVectors) {
  for (const Vector& v : vectors()) {
    SCOPED_TRACE(v.name);
    std::string canonical = sigv4_canonical_request(v.request);
    EXPECT_EQ(canonical, v.canonical_request);
    std::string sts = sigv4_string_to_sign(kDate, kScope, canonical);
    EXPECT_EQ(sts, std::string("AWS4-HMAC-SHA256\n20150830T123600Z\n"
                               "20150830/us-east-1/service/aws4_request\n") +
                       v.string_to_sign_hash);
    EXPECT_EQ(sigv4_signature(kSecret, kScope, sts), v.signature);
    SigV4Credentials creds{"AKIDEXAMPLE", kSecret, ""};
    EXPECT_EQ(sigv4_authorization(v.request, creds, kDate, kScope),
              "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
              "SignedHeaders=" +
                  sigv4_signed_headers(v.request.headers) + ", Signature=" + v.signature);
  }
}

TEST(SigV4, S3PathRulesEncodeOnceAndKeepSlashes) {
  EXPECT_EQ(sigv4_canonical_uri(""), "/");
  EXPECT_EQ(sigv4_canonical_uri("/bucket/a b/c+d"), "/bucket/a%20b/c%2Bd");
  EXPECT_EQ(sigv4_canonical_query({{"list-type", "2"}, {"prefix", "data/"}, {"uploads", ""}}),
            "list-type=2&prefix=data%2F&uploads=");
}

TEST(SigV4, AmzDateFormat) { EXPECT_EQ(amz_date(1440938160), "20150830T123600Z"); }

}  // namespace
}  // namespace sr::storage

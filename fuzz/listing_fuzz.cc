// fuzz/listing_fuzz.cc: the object stores' listing and error answers (HTTP input: S3
// ListObjectsV2, Azure List Blobs, <Error> bodies) on arbitrary bytes. Whatever is accepted must
// be a valid storage key below the prefix.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "storage/xml_util.h"

using namespace sr;

namespace {
void check(const storage::ListPage& page) {
  for (const auto& o : page.objects) {
    const std::string& key = o.key;
    FUZZ_CHECK(!key.empty() && key.front() != '/' && key.back() != '/');
    size_t start = 0;
    for (;;) {
      size_t slash = key.find('/', start);
      std::string part = key.substr(start, slash == std::string::npos ? slash : slash - start);
      FUZZ_CHECK(!part.empty() && part != "." && part != "..");
      if (slash == std::string::npos) break;
      start = slash + 1;
    }
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ByteSpan in(data, size);
  for (const char* base : {"", "team/repo1/"}) {
    try {
      check(storage::parse_s3_list(in, base));
    } catch (const Error& e) {
      FUZZ_CHECK(e.code() == Errc::kPermanent);
    }
    try {
      check(storage::parse_azure_list(in, base));
    } catch (const Error& e) {
      FUZZ_CHECK(e.code() == Errc::kPermanent);
    }
  }
  (void)storage::parse_xml_error(in);
  return 0;
}

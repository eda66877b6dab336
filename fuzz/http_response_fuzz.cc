// fuzz/http_response_fuzz.cc: what the S3 and Azure backends read from a response besides
// listings (listing_fuzz): the header lines libcurl hands over (parse_response_header_line), the
// values taken from them (Content-Length via content_length, ETag, x-ms-error-code,
// x-amz-meta-sr-sha256 / x-ms-meta-srsha256) and the XML bodies (<Error> via parse_xml_error,
// CreateMultipartUpload's <UploadId>). The input is a header block, a blank line, then the body.
// (No multipart body is ever parsed: strongroom sends multipart uploads, it reads none.)
//
// Properties: only sr::Error escapes; header names are lower case and no name or value holds a
// LF (lines are split there); an accepted Content-Length is the header's exact decimal value.
#include <tinyxml2.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_util.h"
#include "storage/http_client.h"
#include "storage/xml_util.h"

using namespace sr;

namespace {
void check_content_length(const storage::HttpResponse& r) {
  std::string text = r.header("content-length");
  try {
    uint64_t n = r.content_length("fuzz");
    FUZZ_CHECK(!text.empty() && text.find_first_not_of("0123456789") == std::string::npos);
    size_t first = text.find_first_not_of('0');
    FUZZ_CHECK(std::to_string(n) == (first == std::string::npos ? "0" : text.substr(first)));
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == Errc::kTransient);
  }
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t split = in.find("\r\n\r\n");
  std::string_view head = in.substr(0, split);
  ByteSpan body =
      split == std::string_view::npos ? ByteSpan() : ByteSpan(data + split + 4, size - split - 4);
  storage::HttpResponse r;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t eol = head.find('\n', pos);
    size_t end = eol == std::string_view::npos ? head.size() : eol + 1;
    storage::parse_response_header_line(head.substr(pos, end - pos), r.headers);
    pos = end;
  }
  for (const auto& [name, value] : r.headers) {
    for (char c : name) FUZZ_CHECK(!(c >= 'A' && c <= 'Z') && c != '\n');
    for (char c : value) FUZZ_CHECK(c != '\n');
  }
  check_content_length(r);
  (void)r.header("etag");
  (void)r.header("x-ms-error-code");
  (void)r.header("x-amz-meta-sr-sha256");
  storage::XmlError e = storage::parse_xml_error(body);
  FUZZ_CHECK(e.message.find('\n') == std::string::npos);
  tinyxml2::XMLDocument doc;
  if (storage::parse_xml(doc, body)) (void)storage::xml_child_text(doc.RootElement(), "UploadId");
  return 0;
}

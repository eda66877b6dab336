// storage/xml_util.h: the little XML the object stores speak, read with tinyxml2.
//
// Both S3 and Azure answer errors as <Error><Code>…</Code><Message>…</Message></Error> and list
// objects as XML; these helpers keep the tinyxml2 calls in one place. Pure; thread-safe.
#pragma once

#include <tinyxml2.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "base/bytes.h"
#include "storage/storage.h"

namespace sr::storage {

// Parses a response body; returns false (leaving doc empty) when it is not well-formed XML.
bool parse_xml(tinyxml2::XMLDocument& doc, ByteSpan body);
// Text of the first child element `name` of `parent`, or "" when absent.
std::string xml_child_text(const tinyxml2::XMLElement* parent, const char* name);

struct XmlError {
  std::string code;     // e.g. "SlowDown", "AuthenticationFailed"; "" when the body is no error
  std::string message;  // first line of <Message>
};
XmlError parse_xml_error(ByteSpan body);

// One page of a listing: objects below `base` (names with `base` removed), and the token of the
// next page ("" on the last page). Throws Errc::kPermanent on a body that is not a listing, or an
// object size that is not a decimal number; names must be valid storage keys (no "..", not
// absolute, no empty components), since they become keys of later requests.
// Last-modified times are taken when they parse (S3 LastModified, RFC 3339; Azure
// Properties/Last-Modified, RFC 1123) and left 0 otherwise: they inform (WAL freshness), never
// decide what exists.
struct ListPage {
  std::vector<ObjectInfo> objects;
  std::string next;
};
// S3 ListObjectsV2 (<ListBucketResult>: Contents/Key, Size; IsTruncated, NextContinuationToken).
ListPage parse_s3_list(ByteSpan body, const std::string& base);
// Azure List Blobs (<EnumerationResults>: Blobs/Blob/Name, Properties/Content-Length; NextMarker).
ListPage parse_azure_list(ByteSpan body, const std::string& base);

// Escapes &, <, >, " and ' for element text.
std::string xml_escape(const std::string& text);

}  // namespace sr::storage

// storage/xml_util.h: the little XML the object stores speak, read with tinyxml2.
//
// Both S3 and Azure answer errors as <Error><Code>…</Code><Message>…</Message></Error> and list
// objects as XML; these helpers keep the tinyxml2 calls in one place. Pure; thread-safe.
#pragma once

#include <tinyxml2.h>

#include <string>

#include "base/bytes.h"

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

// Escapes &, <, >, " and ' for element text.
std::string xml_escape(const std::string& text);

}  // namespace sr::storage

#include "storage/xml_util.h"

#include <ctime>

#include "base/error.h"
#include "base/time_util.h"

namespace sr::storage {

bool parse_xml(tinyxml2::XMLDocument& doc, ByteSpan body) {
  if (body.empty()) return false;
  return doc.Parse(reinterpret_cast<const char*>(body.data()), body.size()) ==
         tinyxml2::XML_SUCCESS;
}

std::string xml_child_text(const tinyxml2::XMLElement* parent, const char* name) {
  if (!parent) return "";
  const tinyxml2::XMLElement* e = parent->FirstChildElement(name);
  if (!e || !e->GetText()) return "";
  return e->GetText();
}

XmlError parse_xml_error(ByteSpan body) {
  tinyxml2::XMLDocument doc;
  if (!parse_xml(doc, body)) return {};
  const tinyxml2::XMLElement* root = doc.RootElement();
  if (!root || std::string(root->Name()) != "Error") return {};
  XmlError e{xml_child_text(root, "Code"), xml_child_text(root, "Message")};
  if (auto nl = e.message.find('\n'); nl != std::string::npos) e.message.resize(nl);
  while (!e.message.empty() && (e.message.back() == '\r' || e.message.back() == ' '))
    e.message.pop_back();
  return e;
}

std::string xml_escape(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&apos;";
        break;
      default:
        out.push_back(c);
    }
  }
  return out;
}

namespace {
uint64_t decimal_size(const std::string& text, const char* what) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
    throw Error(Errc::kPermanent, std::string(what) + ": bad object size '" + text + "'");
  return std::stoull(text);
}

bool valid_key(const std::string& k) {
  if (k.empty() || k.front() == '/' || k.back() == '/') return false;
  size_t start = 0;
  for (;;) {
    size_t slash = k.find('/', start);
    std::string part =
        k.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (part.empty() || part == "." || part == ".." || part.find('\0') != std::string::npos)
      return false;
    if (slash == std::string::npos) return true;
    start = slash + 1;
  }
}

void add(ListPage& page, const std::string& name, const std::string& base, uint64_t size,
         int64_t mtime_ns, const char* what) {
  if (name.rfind(base, 0) != 0) return;
  std::string key = name.substr(base.size());
  if (!valid_key(key)) throw Error(Errc::kPermanent, std::string(what) + ": invalid object name");
  page.objects.push_back(ObjectInfo{std::move(key), size, mtime_ns});
}

int64_t rfc3339_or_zero(const std::string& text) {
  try {
    return text.empty() ? 0 : parse_rfc3339(text);
  } catch (const Error&) {
    return 0;
  }
}

// "Mon, 30 Aug 2015 12:36:00 GMT"
int64_t rfc1123_or_zero(const std::string& text) {
  struct tm tm {};
  const char* end = ::strptime(text.c_str(), "%a, %d %b %Y %H:%M:%S GMT", &tm);
  if (end == nullptr || *end != '\0') return 0;
  time_t t = ::timegm(&tm);
  return t < 0 ? 0 : static_cast<int64_t>(t) * 1'000'000'000;
}
}  // namespace

ListPage parse_s3_list(ByteSpan body, const std::string& base) {
  tinyxml2::XMLDocument doc;
  if (!parse_xml(doc, body) || !doc.RootElement())
    throw Error(Errc::kPermanent, "s3: the listing is not XML");
  const tinyxml2::XMLElement* root = doc.RootElement();
  ListPage page;
  for (const auto* e = root->FirstChildElement("Contents"); e;
       e = e->NextSiblingElement("Contents"))
    add(page, xml_child_text(e, "Key"), base, decimal_size(xml_child_text(e, "Size"), "s3 listing"),
        rfc3339_or_zero(xml_child_text(e, "LastModified")), "s3 listing");
  if (xml_child_text(root, "IsTruncated") == "true")
    page.next = xml_child_text(root, "NextContinuationToken");
  return page;
}

ListPage parse_azure_list(ByteSpan body, const std::string& base) {
  tinyxml2::XMLDocument doc;
  if (!parse_xml(doc, body) || !doc.RootElement())
    throw Error(Errc::kPermanent, "azure: the listing is not XML");
  const tinyxml2::XMLElement* root = doc.RootElement();
  ListPage page;
  if (const auto* blobs = root->FirstChildElement("Blobs"))
    for (const auto* b = blobs->FirstChildElement("Blob"); b; b = b->NextSiblingElement("Blob"))
      add(page, xml_child_text(b, "Name"), base,
          decimal_size(xml_child_text(b->FirstChildElement("Properties"), "Content-Length"),
                       "azure listing"),
          rfc1123_or_zero(xml_child_text(b->FirstChildElement("Properties"), "Last-Modified")),
          "azure listing");
  page.next = xml_child_text(root, "NextMarker");
  return page;
}

}  // namespace sr::storage

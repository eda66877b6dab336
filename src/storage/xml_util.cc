#include "storage/xml_util.h"

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

}  // namespace sr::storage

// Listing key slots and making their free-text labels printable (split from keys.cc).
#include <nlohmann/json.hpp>

#include "base/json_util.h"
#include "repo/keys.h"

namespace sr::repo {

using nlohmann::json;

namespace {
json load_slot_json(storage::Storage& storage, const std::string& key) {
  Bytes raw = storage.get(key);
  return json::parse(as_chars(raw));
}
}  // namespace

std::vector<KeySlotInfo> list_key_slots(storage::Storage& storage) {
  std::vector<KeySlotInfo> out;
  storage.list("keys/", [&](const storage::ObjectInfo& o) {
    if (is_ring_object(o.key)) return;
    KeySlotInfo info{printable_label(o.key.substr(5)), 0, "", "", "", 1};
    try {
      json slot = load_slot_json(storage, o.key);
      info.created_ns = json_int_or<int64_t>(slot, "created_ns", 0, o.key);
      info.host = printable_label(slot.value("host", std::string()));
      info.user = printable_label(slot.value("user", std::string()));
      info.kdf = printable_label(slot.value("kdf", std::string()));
      info.version = slot.contains("public") ? 2 : 1;
    } catch (const std::exception&) {
      info.host = "(damaged)";
    }
    out.push_back(info);
  });
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return a.created_ns < b.created_ns; });
  return out;
}

std::string printable_label(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size() && out.size() < 256) {
    auto c = static_cast<unsigned char>(text[i]);
    size_t len = c < 0x80           ? 1
                 : (c >> 5) == 0x6  ? 2
                 : (c >> 4) == 0xe  ? 3
                 : (c >> 3) == 0x1e ? 4
                                    : 0;
    bool ok = len > 0 && i + len <= text.size();
    uint32_t cp = len == 1 ? c : len == 2 ? (c & 0x1f) : len == 3 ? (c & 0x0f) : (c & 0x07);
    for (size_t k = 1; ok && k < len; ++k) {
      auto cc = static_cast<unsigned char>(text[i + k]);
      ok = (cc & 0xc0) == 0x80;
      cp = (cp << 6) | (cc & 0x3f);
    }
    // Overlong forms, surrogates and values past U+10FFFF are invalid UTF-8.
    static constexpr uint32_t kMinOf[] = {0, 0, 0x80, 0x800, 0x10000};
    ok = ok && cp >= kMinOf[len] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    bool control = cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
                   (cp >= 0x2066 && cp <= 0x2069);
    if (!ok || control) {
      out += '?';
      i += ok ? len : 1;
    } else {
      out.append(text.substr(i, len));
      i += len;
    }
  }
  return out;
}

}  // namespace sr::repo

#include "repo/wal_store.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "base/json_util.h"
#include "base/large_buffer.h"
#include "base/lsn.h"
#include "codec/compress.h"
#include "repo/envelope.h"

namespace sr::repo {

using nlohmann::json;

namespace {
constexpr char kMagic[4] = {'S', 'R', 'W', 'L'};
constexpr uint8_t kLegacyVersion = 1;
constexpr size_t kLegacyHeader = 6 + codec::kSealOverhead + 32;
// Version 2: magic | key header (kKeyHeaderSize) | content tag (32).
constexpr size_t kHeader = 4 + kKeyHeaderSize + 32;
constexpr uint64_t kMaxWalFile = 1ull << 30;

// Associated data: "SRWL" || version 1 header bytes (or the v2 key header) || what || key.
Bytes aad(ByteSpan header, const char* what, const std::string& key) {
  const size_t what_len = std::strlen(what);
  Bytes a(4 + header.size() + what_len + key.size());
  uint8_t* p = a.data();
  std::memcpy(p, kMagic, 4);
  if (!header.empty()) std::memcpy(p + 4, header.data(), header.size());
  std::memcpy(p + 4 + header.size(), what, what_len);
  if (!key.empty()) std::memcpy(p + 4 + header.size() + what_len, key.data(), key.size());
  return a;
}

Bytes legacy_aad(const char* what, const std::string& key) {
  const uint8_t v1[2] = {kLegacyVersion, kWrapAesGcm};
  return aad(ByteSpan(v1, 2), what, key);
}

// What a write-only host compares a second push of a name with (it cannot decrypt the stored
// object): HMAC-SHA-256 under a key derived from id_key, of the object key and the content.
// Computed only by write-only hosts (all zero otherwise: full hosts compare the plaintext).
codec::Key32 content_tag(const KeySet& keys, const std::string& key, ByteSpan content) {
  codec::Key32 k = codec::hmac_sha256(keys.id_key, as_bytes(std::string("strongroom wal tag")));
  const uint8_t zero = 0;
  codec::Key32 tag = codec::hmac_sha256(k, {as_bytes(key), ByteSpan(&zero, 1), content});
  codec::wipe(k);
  return tag;
}

// The buffer of the last sealed object is kept per thread (huge pages, aligned for O_DIRECT): a
// pusher seals segment after segment, and a fresh 16 MiB buffer per segment costs page faults
// on every page.
thread_local LargeBuffer spare_buffer;

LargeBuffer take_buffer(size_t n) {
  if (spare_buffer.size() >= n) return std::move(spare_buffer);
  return LargeBuffer((n + 4095) / 4096 * 4096);
}

// A sealed WAL object, built in one buffer that is never zero-filled: the content is compressed
// straight into its place (on all cores) and encrypted there, so a 16 MiB segment costs no copy
// besides the compressed bytes of its later parts.
struct SealedWal {
  LargeBuffer buf;
  size_t size = 0;
  SealedWal() = default;
  SealedWal(SealedWal&&) = default;
  SealedWal& operator=(SealedWal&&) = delete;
  SealedWal(const SealedWal&) = delete;
  ~SealedWal() {
    if (buf.size() > spare_buffer.size()) spare_buffer = std::move(buf);
  }
  ByteSpan span() const { return {buf.data(), size}; }
};

SealedWal seal_wal(const KeySet& keys, const std::string& key, ByteSpan content,
                   size_t max_parts = 0) {
  ObjectKey file_key = new_object_key(keys, "wal", key);
  Bytes head(kMagic, kMagic + 4);
  head.insert(head.end(), file_key.header.begin(), file_key.header.end());
  codec::Key32 tag{};
  if (keys.write_only) tag = content_tag(keys, key, content);
  head.insert(head.end(), tag.begin(), tag.end());
  // Payload (version 2): u8 2 | u64 size | u8 compressed | data. AES-GCM authenticates it; a
  // second push of the name compares contents byte for byte, so no checksum is computed.
  constexpr size_t kPayloadHead = 1 + 8 + 1;
  const size_t region = head.size();
  const size_t data_at = region + codec::kNonceSize + kPayloadHead;
  const size_t cap = std::max(content.size(), codec::compress_split_bound(content.size()));
  SealedWal out;
  out.buf = take_buffer(data_at + cap + codec::kTagSize);
  uint8_t* p = out.buf.data();
  std::memcpy(p, head.data(), head.size());

  std::optional<size_t> n = codec::compress_split(content, 1, p + data_at, cap, max_parts);
  if (!n) std::memcpy(p + data_at, content.data(), content.size());
  const size_t data_len = n ? *n : content.size();

  ByteWriter ph;
  ph.u8(2);
  ph.u64(content.size());
  ph.u8(n ? 1 : 0);
  std::memcpy(p + region + codec::kNonceSize, ph.buffer().data(), kPayloadHead);
  const size_t sealed_len = codec::kNonceSize + kPayloadHead + data_len + codec::kTagSize;
  codec::seal_region(file_key.key, aad(file_key.header, "wal", key), {p + region, sealed_len});
  out.size = region + sealed_len;
  return out;
}

struct Opened {
  Bytes content;
};

// The payload of a stored WAL object (either version), authenticated.
Bytes open_payload(const KeySet& keys, const std::string& key, ByteSpan stored) {
  if (stored.size() < 6 || std::memcmp(stored.data(), kMagic, 4) != 0)
    throw Error(Errc::kCorrupt, key + " is damaged: not a strongroom WAL object");
  if (stored[4] == kLegacyVersion && stored[5] == kWrapAesGcm) {
    if (stored.size() < kLegacyHeader + codec::kSealOverhead)
      throw Error(Errc::kCorrupt, key + " is damaged: not a strongroom WAL object");
    Bytes k = codec::open(data_key_of(keys, 0), stored.subspan(6, kLegacyHeader - 6),
                          legacy_aad("key", key), key.c_str());
    codec::Key32 file_key;
    std::memcpy(file_key.data(), k.data(), 32);
    codec::wipe(k);
    Bytes payload =
        codec::open(file_key, stored.subspan(kLegacyHeader), legacy_aad("wal", key), key.c_str());
    codec::wipe(file_key);
    return payload;
  }
  if (stored.size() < kHeader + codec::kSealOverhead)
    throw Error(Errc::kCorrupt, key + " is damaged or has an unsupported version or key wrapping");
  ByteSpan header = stored.subspan(4, kKeyHeaderSize);
  codec::Key32 file_key = derive_object_key(keys, "wal", header, key);
  Bytes payload =
      codec::open(file_key, stored.subspan(kHeader), aad(header, "wal", key), key.c_str());
  codec::wipe(file_key);
  return payload;
}

Opened open_wal(const KeySet& keys, const std::string& key, ByteSpan stored) {
  Bytes payload = open_payload(keys, key, stored);
  ByteReader r(payload, key);
  uint8_t version = r.u8();
  if (version != 1 && version != 2) r.fail("unsupported payload version");
  uint64_t size = r.u64();
  if (size > kMaxWalFile) r.fail("implausible size");
  Opened o;
  std::optional<codec::Key32> sha;  // version 1 carried a SHA-256 of the content
  if (version == 1) std::memcpy(sha.emplace().data(), r.raw(32).data(), 32);
  uint8_t compressed = r.u8();
  ByteSpan data = r.raw(r.remaining());
  if (compressed) {
    codec::decompress(data, static_cast<size_t>(size), o.content, key.c_str());
  } else {
    if (data.size() != size) r.fail("size mismatch");
    o.content.assign(data.begin(), data.end());
  }
  if (sha && codec::sha256(o.content) != *sha)
    throw Error(Errc::kCorrupt, key + " does not match its checksum");
  return o;
}
// Whether the stored object `key` holds `content`: by its plaintext, or (write-only keys, which
// cannot decrypt it) by its content tag.
bool same_content(const KeySet& keys, const std::string& key, ByteSpan stored, ByteSpan content) {
  if (!keys.write_only) {
    Opened existing = open_wal(keys, key, stored);
    return std::equal(existing.content.begin(), existing.content.end(), content.begin(),
                      content.end());
  }
  if (stored.size() < kHeader || std::memcmp(stored.data(), kMagic, 4) != 0 ||
      stored[4] == kLegacyVersion)
    throw Error(Errc::kAuth, key + " exists and was not written with a write-only key, which " +
                                 "cannot compare it: " + kWriteOnlyMessage);
  codec::Key32 stored_tag, tag = content_tag(keys, key, content);
  std::memcpy(stored_tag.data(), stored.data() + 4 + kKeyHeaderSize, 32);
  if (stored_tag == codec::Key32{})
    throw Error(Errc::kAuth, key + " exists and was written by a full key; a write-only key " +
                                 "cannot compare it: " + kWriteOnlyMessage);
  return codec::constant_time_equal(stored_tag, tag);
}

}  // namespace

void validate_stanza(const std::string& stanza) {
  if (stanza.empty() || stanza.size() > 64 ||
      stanza.find_first_not_of(
          "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != std::string::npos)
    throw Error(Errc::kUsage, "invalid stanza '" + stanza + "' (letters, digits, '_' and '-')");
}

WalStore::WalStore(Repository& repo, std::string stanza) : repo_(repo), stanza_(std::move(stanza)) {
  validate_stanza(stanza_);
}

std::string WalStore::object_key(const std::string& name) const {
  if (pg::is_history_file_name(name)) return "wal/" + stanza_ + "/history/" + name;
  if (pg::is_archive_file_name(name))
    return "wal/" + stanza_ + "/" + name.substr(0, 16) + "/" + name;
  throw Error(Errc::kUsage, "'" + name + "' is not a WAL segment or timeline history file name");
}

std::optional<PgInfo> WalStore::identity() {
  std::string key = "pg/" + stanza_ + "/info";
  auto raw = storage::get_if_exists(repo_.storage(), key);
  if (!raw) return std::nullopt;
  Bytes payload = open_envelope(repo_.keys(), EnvelopeKind::kPgInfo, key, *raw);
  try {
    json j = json::parse(as_chars(payload));
    PgInfo info{j.at("system_identifier").get<std::string>(), json_int<int>(j, "version", key),
                json_int<uint64_t>(j, "segment_size", key)};
    // Segment names are computed by dividing by it: a hostile 0 must not reach a division.
    if (info.segment_size < (1u << 20) || info.segment_size > (1u << 30) ||
        (info.segment_size & (info.segment_size - 1)) != 0)
      throw Error(Errc::kCorrupt, key + " is damaged: invalid segment_size");
    return info;
  } catch (const json::exception&) {
    throw Error(Errc::kCorrupt, key + " is damaged");
  }
}

PgInfo WalStore::check_identity(const PgInfo& info) {
  auto known = identity();
  if (!known) {
    std::string key = "pg/" + stanza_ + "/info";
    json j = {{"system_identifier", info.system_identifier},
              {"version", info.version},
              {"segment_size", info.segment_size}};
    try {
      repo_.storage().put(
          key, seal_envelope(repo_.keys(), EnvelopeKind::kPgInfo, key, as_bytes(j.dump())), true);
      return info;
    } catch (const Error& e) {
      if (e.code() != Errc::kAlreadyExists) throw;
      known = identity();  // another process registered it first
    }
  }
  if (known->system_identifier != info.system_identifier)
    throw Error(Errc::kUsage,
                "stanza '" + stanza_ +
                    "' of this repository belongs to the cluster with system identifier " +
                    known->system_identifier + ", not " + info.system_identifier +
                    " (use another --stanza for another cluster)");
  return *known;
}

Bytes open_wal_object(const KeySet& keys, const std::string& key, ByteSpan stored) {
  return open_wal(keys, key, stored).content;
}

Bytes seal_wal_object(const KeySet& keys, const std::string& key, ByteSpan content) {
  SealedWal s = seal_wal(keys, key, content);
  return Bytes(s.span().begin(), s.span().end());
}

WalStore::PushResult WalStore::push(const std::string& name, ByteSpan content, size_t max_parts) {
  std::string key = object_key(name);
  if (content.size() > kMaxWalFile)
    throw Error(Errc::kUsage, name + " is too large for a WAL file");
  if (repo_.storage().stat(key)) {
    if (!same_content(repo_.keys(), key, repo_.storage().get(key), content))
      throw Error(Errc::kAlreadyExists,
                  "WAL file " + name +
                      " is already in the repository with DIFFERENT content; refusing "
                      "to overwrite it (is another cluster archiving into stanza '" +
                      stanza_ + "'?)");
    return PushResult::kAlreadyStored;
  }
  repo_.ensure_format_version();
  try {
    SealedWal sealed = seal_wal(repo_.keys(), key, content, max_parts);
    repo_.storage().put(key, sealed.span(), true);
  } catch (const Error& e) {
    if (e.code() != Errc::kAlreadyExists) throw;
    return push(name, content, max_parts);  // raced with another push of the same file: compare
  }
  return PushResult::kStored;
}

namespace {
std::string increment_prefix(const std::string& stanza, const std::string& segment) {
  return "wal/" + stanza + "/" + segment.substr(0, 16) + "/" + segment + ".inc.";
}
}  // namespace

void WalStore::push_increment(const std::string& segment, uint32_t offset, ByteSpan data) {
  if (!pg::is_segment_file_name(segment))
    throw Error(Errc::kUsage, segment + " is not a WAL segment name");
  char hex[16];
  std::snprintf(hex, sizeof hex, "%08x", offset);
  std::string key = increment_prefix(stanza_, segment) + hex;
  repo_.ensure_format_version();
  try {
    repo_.storage().put(key, seal_wal(repo_.keys(), key, data).span(), true);
  } catch (const Error& e) {
    if (e.code() != Errc::kAlreadyExists) throw;
    // The same increment again (a restart): it must hold the same bytes.
    if (!same_content(repo_.keys(), key, repo_.storage().get(key), data))
      throw Error(Errc::kAlreadyExists, "streamed WAL " + segment + " at offset " + hex +
                                            " differs from what the repository holds");
  }
}

Bytes WalStore::assemble_increments(const std::string& segment) {
  std::map<uint32_t, std::string> parts;
  std::string prefix = increment_prefix(stanza_, segment);
  repo_.storage().list(prefix, [&](const storage::ObjectInfo& o) {
    std::string off = o.key.substr(prefix.size());
    if (off.size() == 8 && off.find_first_not_of("0123456789abcdef") == std::string::npos)
      parts[static_cast<uint32_t>(std::stoul(off, nullptr, 16))] = o.key;
  });
  Bytes out;
  for (const auto& [offset, key] : parts) {
    if (offset != out.size()) break;  // a gap: the contiguous prefix ends here
    Opened o = open_wal(repo_.keys(), key, repo_.storage().get(key));
    out.insert(out.end(), o.content.begin(), o.content.end());
  }
  return out;
}

Bytes WalStore::resume_increments(const std::string& segment) {
  if (!repo_.write_only()) return assemble_increments(segment);
  remove_increments(segment);
  return {};
}

void WalStore::remove_increments(const std::string& segment) {
  std::vector<std::string> keys;
  repo_.storage().list(increment_prefix(stanza_, segment),
                       [&](const storage::ObjectInfo& o) { keys.push_back(o.key); });
  for (const auto& k : keys) {
    try {
      repo_.storage().remove(k);
    } catch (const Error&) {
      // Superseded by the whole segment, which readers prefer; an immutable store (retention
      // policy, object lock) may refuse deletes. Left for prune.
    }
  }
}

void WalStore::list_streamed(const std::function<void(const std::string& segment)>& visit) {
  std::set<std::string> segments;
  repo_.storage().list("wal/" + stanza_ + "/", [&](const storage::ObjectInfo& o) {
    auto pos = o.key.find(".inc.");
    if (pos == std::string::npos || pos < 24) return;
    std::string seg = o.key.substr(pos - 24, 24);
    if (pg::is_segment_file_name(seg)) segments.insert(seg);
  });
  for (const auto& s : segments) visit(s);
}

std::optional<Bytes> WalStore::get_segment_or_partial(const std::string& name,
                                                      uint64_t segment_size) {
  if (auto full = get(name)) return full;
  if (!pg::is_segment_file_name(name)) return std::nullopt;
  Bytes partial = assemble_increments(name);
  if (partial.empty()) return std::nullopt;
  partial.resize(static_cast<size_t>(segment_size), 0);
  return partial;
}

std::optional<Bytes> WalStore::get(const std::string& name) {
  std::string key = object_key(name);
  auto raw = storage::get_if_exists(repo_.storage(), key);
  if (!raw) return std::nullopt;
  return open_wal(repo_.keys(), key, *raw).content;
}

bool WalStore::exists(const std::string& name) {
  return repo_.storage().stat(object_key(name)).has_value();
}

int64_t WalStore::newest_stored_ns() {
  int64_t newest = 0;
  repo_.storage().list("wal/" + stanza_ + "/", [&](const storage::ObjectInfo& o) {
    // WAL content only: segments, .partial and streamed increments (not history files nor
    // backup history files, which are written with a backup and carry no transactions).
    std::string name = o.key.substr(o.key.rfind('/') + 1);
    if (name.size() < 24 || !pg::parse_segment_name(name.substr(0, 24))) return;
    if (name.size() > 24 && name.ends_with(".backup")) return;
    newest = std::max(newest, o.mtime_ns);
  });
  return newest;
}

void WalStore::remove(const std::string& name) { repo_.storage().remove(object_key(name)); }

void WalStore::list(const std::function<void(const std::string& name)>& visit) {
  repo_.storage().list("wal/" + stanza_ + "/", [&](const storage::ObjectInfo& o) {
    auto pos = o.key.rfind('/');
    std::string name = o.key.substr(pos + 1);
    if (pg::is_archive_file_name(name)) visit(name);
  });
}

}  // namespace sr::repo

#include "repo/pack.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "base/fs.h"
#include "base/random.h"

namespace sr::repo {

namespace {
constexpr char kMagic[4] = {'S', 'R', 'P', 'K'};
constexpr uint8_t kLegacyVersion = 1;
constexpr uint8_t kVersion = 2;
constexpr size_t kFooterSize = 8;

Bytes legacy_header_aad(const std::string& name) {
  Bytes aad(kMagic, kMagic + 4);
  aad.push_back(kLegacyVersion);
  aad.push_back(kWrapAesGcm);
  aad.insert(aad.end(), name.begin(), name.end());
  return aad;
}

Bytes trailer_aad(const std::string& name) {
  std::string s = "SRPK trailer" + name;
  return Bytes(s.begin(), s.end());
}
}  // namespace

std::string pack_object_key(const std::string& name) {
  return "data/" + name.substr(0, 2) + "/" + name;
}

Bytes blob_aad(const codec::ChunkId& id, BlobType type, uint8_t flags) {
  Bytes aad(id.begin(), id.end());
  aad.push_back(static_cast<uint8_t>(type));
  aad.push_back(flags);
  return aad;
}

namespace {
Bytes derivation_info(std::string_view domain, ByteSpan key_header, const std::string& name) {
  std::string label = "strongroom v2 " + std::string(domain) + "|";
  Bytes info(label.begin(), label.end());
  info.insert(info.end(), key_header.begin(), key_header.end());
  info.insert(info.end(), name.begin(), name.end());
  return info;
}

Bytes concat(const codec::Key32& a, const codec::Key32& b) {
  Bytes out(a.begin(), a.end());
  out.insert(out.end(), b.begin(), b.end());
  return out;
}
}  // namespace

ObjectKey new_object_key(const KeySet& keys, std::string_view domain, const std::string& name) {
  const KeyGeneration& g = keys.newest();
  ObjectKey out;
  out.header.resize(kKeyHeaderSize);
  out.header[0] = kVersion;
  out.header[1] = g.restore_public ? kWrapX25519 : kWrapHkdf;
  store_le32(out.header.data() + 2, g.number);
  uint8_t* material = out.header.data() + 6;
  if (g.restore_public) {
    codec::X25519Pair eph = codec::x25519_generate();
    std::memcpy(material, eph.pub.data(), 32);
    codec::Key32 shared = codec::x25519(eph.priv, *g.restore_public);
    out.key = codec::hkdf_sha256(shared, concat(eph.pub, *g.restore_public),
                                 derivation_info(domain, out.header, name));
    codec::wipe(shared);
  } else {
    if (!g.has_data_key) throw Error(Errc::kAuth, kWriteOnlyMessage);
    random_fill({material, 32});
    out.key = codec::hkdf_sha256(g.data_key, ByteSpan(material, 32),
                                 derivation_info(domain, out.header, name));
  }
  return out;
}

codec::Key32 derive_object_key(const KeySet& keys, std::string_view domain, ByteSpan key_header,
                               const std::string& name) {
  if (key_header.size() != kKeyHeaderSize || key_header[0] != kVersion ||
      (key_header[1] != kWrapHkdf && key_header[1] != kWrapX25519))
    throw Error(Errc::kCorrupt, name + " has an unsupported version or key wrapping");
  const KeyGeneration& g = keys.generation(load_le32(key_header.data() + 2));
  ByteSpan material = key_header.subspan(6, 32);
  Bytes info = derivation_info(domain, key_header, name);
  if (key_header[1] == kWrapHkdf)
    return codec::hkdf_sha256(data_key_of(keys, g.number), material, info);
  if (!g.restore_public)
    throw Error(Errc::kCorrupt, name + " names a generation without a restore key");
  if (!g.restore_private) throw Error(Errc::kAuth, kWriteOnlyMessage);
  codec::Key32 eph;
  std::memcpy(eph.data(), material.data(), 32);
  codec::Key32 shared = codec::x25519(*g.restore_private, eph);
  codec::Key32 key = codec::hkdf_sha256(shared, concat(eph, *g.restore_public), info);
  codec::wipe(shared);
  return key;
}

codec::Key32 unwrap_pack_key(const KeySet& keys, const std::string& pack_name, ByteSpan wrapped) {
  if (wrapped.size() == kKeyHeaderSize) return derive_object_key(keys, "pack", wrapped, pack_name);
  if (wrapped.size() != kLegacyWrappedKeySize)
    throw Error(Errc::kCorrupt, "pack " + pack_name + " has a bad key");
  Bytes k = codec::open(data_key_of(keys, 0), wrapped, legacy_header_aad(pack_name), "pack key");
  if (k.size() != 32) throw Error(Errc::kCorrupt, "pack " + pack_name + " has a bad key");
  codec::Key32 out;
  std::memcpy(out.data(), k.data(), 32);
  codec::wipe(k);
  return out;
}

void encode_blob_entries(ByteWriter& w, const std::vector<BlobEntry>& blobs) {
  w.varint(blobs.size());
  for (const auto& b : blobs) {
    w.raw(b.id);
    w.u8(static_cast<uint8_t>(b.type));
    w.u8(b.flags);
    w.varint(b.offset);
    w.varint(b.length);
    w.varint(b.raw_length);
  }
}

std::vector<BlobEntry> decode_blob_entries(ByteReader& r) {
  uint64_t n = r.varint();
  if (n > r.remaining() / 37) r.fail("too many blob entries");
  std::vector<BlobEntry> out(static_cast<size_t>(n));
  for (auto& b : out) {
    auto id = r.raw(32);
    std::memcpy(b.id.data(), id.data(), 32);
    uint8_t type = r.u8();
    if (type > 1) r.fail("unknown blob type");
    b.type = static_cast<BlobType>(type);
    b.flags = r.u8();
    b.offset = r.varint();
    uint64_t len = r.varint(), raw = r.varint();
    if (len > (1u << 31) || raw > (1u << 31) || len < codec::kSealOverhead)
      r.fail("bad blob length");
    b.length = static_cast<uint32_t>(len);
    b.raw_length = static_cast<uint32_t>(raw);
  }
  return out;
}

PackInfo parse_pack(const KeySet& keys, const std::string& name, ByteSpan pack) {
  std::string what = "pack " + name;
  if (pack.size() < kPackHeaderSize + kFooterSize || std::memcmp(pack.data(), kMagic, 4) != 0 ||
      std::memcmp(pack.data() + pack.size() - 4, kMagic, 4) != 0)
    throw Error(Errc::kCorrupt, what + " is damaged: bad header or footer");
  bool legacy = pack[4] == kLegacyVersion && pack[5] == kWrapAesGcm;
  if (!legacy && (pack[4] != kVersion || (pack[5] != kWrapHkdf && pack[5] != kWrapX25519)))
    throw Error(Errc::kCorrupt, what + " has an unsupported version or key wrapping");
  const size_t header_size = legacy ? kLegacyPackHeaderSize : kPackHeaderSize;
  if (pack.size() < header_size + kFooterSize)
    throw Error(Errc::kCorrupt, what + " is damaged: bad header or footer");
  PackInfo info;
  info.name = name;
  info.size = pack.size();
  info.wrapped_key.assign(pack.begin() + (legacy ? 6 : 4), pack.begin() + header_size);
  uint32_t tlen = load_le32(pack.data() + pack.size() - kFooterSize);
  if (tlen > pack.size() - header_size - kFooterSize)
    throw Error(Errc::kCorrupt, what + " is damaged: bad trailer length");
  size_t tstart = pack.size() - kFooterSize - tlen;
  codec::Key32 key = unwrap_pack_key(keys, name, info.wrapped_key);
  Bytes trailer;
  try {
    trailer = codec::open(key, pack.subspan(tstart, tlen), trailer_aad(name), what.c_str());
  } catch (...) {
    codec::wipe(key);
    throw;
  }
  codec::wipe(key);
  ByteReader r(trailer, what + " trailer");
  info.blobs = decode_blob_entries(r);
  for (const auto& b : info.blobs)
    if (b.offset < header_size || b.offset > tstart || b.length > tstart - b.offset)
      throw Error(Errc::kCorrupt, what + " is damaged: a blob lies outside the pack");
  return info;
}

PackWriter::PackWriter(const KeySet& keys, const std::string& staging_dir) {
  info_.name = random_hex(32);
  ObjectKey ok = new_object_key(keys, "pack", info_.name);
  pack_key_ = ok.key;
  path_ = staging_dir + "/pack-" + info_.name;
  // Same mode as every other object (the repository directory is the access boundary).
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_errno("cannot create " + path_);
  Bytes header(kMagic, kMagic + 4);
  header.insert(header.end(), ok.header.begin(), ok.header.end());
  info_.wrapped_key = ok.header;
  write_all(fd_, header, path_);
  size_ = header.size();
}

PackWriter::~PackWriter() {
  codec::wipe(pack_key_);
  if (fd_ >= 0) {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
}

const BlobEntry& PackWriter::append(const codec::ChunkId& id, BlobType type, uint8_t flags,
                                    ByteSpan payload, uint32_t raw_length) {
  if (broken_)
    throw Error(Errc::kIo, "pack " + info_.name + " cannot be written after an earlier failure");
  scratch_.clear();
  codec::seal_append(pack_key_, payload, blob_aad(id, type, flags), scratch_);
  try {
    write_all(fd_, scratch_, path_);
  } catch (...) {
    broken_ = true;
    throw;
  }
  BlobEntry e{id, type, flags, size_, static_cast<uint32_t>(scratch_.size()), raw_length};
  size_ += scratch_.size();
  info_.blobs.push_back(e);
  return info_.blobs.back();
}

PackInfo PackWriter::finish(storage::Storage& storage) {
  if (broken_)
    throw Error(Errc::kIo, "pack " + info_.name + " cannot be finished after a write failure");
  ByteWriter w;
  encode_blob_entries(w, info_.blobs);
  Bytes trailer = codec::seal(pack_key_, w.buffer(), trailer_aad(info_.name));
  Bytes footer(8);
  store_le32(footer.data(), static_cast<uint32_t>(trailer.size()));
  std::memcpy(footer.data() + 4, kMagic, 4);
  write_all(fd_, trailer, path_);
  write_all(fd_, footer, path_);
  size_ += trailer.size() + footer.size();
  ::close(fd_);
  fd_ = -1;
  info_.size = size_;
  try {
    storage.put_file(pack_object_key(info_.name), path_, true);
  } catch (...) {
    ::unlink(path_.c_str());
    throw;
  }
  return std::move(info_);
}

}  // namespace sr::repo

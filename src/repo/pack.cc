#include "repo/pack.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>

#include "base/fs.h"
#include "base/random.h"

namespace sr::repo {

namespace {
constexpr char kMagic[4] = {'S', 'R', 'P', 'K'};
constexpr uint8_t kVersion = 1;
constexpr uint8_t kWrapAesGcm = 1;  // pack key sealed with AES-256-GCM under the data key
constexpr size_t kFooterSize = 8;

Bytes header_aad(const std::string& name) {
  Bytes aad(kMagic, kMagic + 4);
  aad.push_back(kVersion);
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

codec::Key32 unwrap_pack_key(const codec::Key32& data_key, const std::string& pack_name,
                             ByteSpan wrapped) {
  Bytes k = codec::open(data_key, wrapped, header_aad(pack_name), "pack key");
  if (k.size() != 32) throw Error(Errc::kCorrupt, "pack " + pack_name + " has a bad key");
  codec::Key32 out;
  std::memcpy(out.data(), k.data(), 32);
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

PackInfo parse_pack(const codec::Key32& data_key, const std::string& name, ByteSpan pack) {
  std::string what = "pack " + name;
  if (pack.size() < kPackHeaderSize + kFooterSize || std::memcmp(pack.data(), kMagic, 4) != 0 ||
      std::memcmp(pack.data() + pack.size() - 4, kMagic, 4) != 0)
    throw Error(Errc::kCorrupt, what + " is damaged: bad header or footer");
  if (pack[4] != kVersion || pack[5] != kWrapAesGcm)
    throw Error(Errc::kCorrupt, what + " has an unsupported version or key wrapping");
  PackInfo info;
  info.name = name;
  info.size = pack.size();
  info.wrapped_key.assign(pack.begin() + 6, pack.begin() + kPackHeaderSize);
  codec::Key32 key = unwrap_pack_key(data_key, name, info.wrapped_key);
  uint32_t tlen = load_le32(pack.data() + pack.size() - kFooterSize);
  if (tlen > pack.size() - kPackHeaderSize - kFooterSize)
    throw Error(Errc::kCorrupt, what + " is damaged: bad trailer length");
  size_t tstart = pack.size() - kFooterSize - tlen;
  Bytes trailer = codec::open(key, pack.subspan(tstart, tlen), trailer_aad(name), what.c_str());
  ByteReader r(trailer, what + " trailer");
  info.blobs = decode_blob_entries(r);
  for (const auto& b : info.blobs)
    if (b.offset < kPackHeaderSize || b.offset > tstart || b.length > tstart - b.offset)
      throw Error(Errc::kCorrupt, what + " is damaged: a blob lies outside the pack");
  return info;
}

PackWriter::PackWriter(const codec::Key32& data_key, const std::string& staging_dir) {
  info_.name = random_hex(32);
  pack_key_ = codec::random_key();
  path_ = staging_dir + "/pack-" + info_.name;
  // Same mode as every other object (the repository directory is the access boundary).
  fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd_ < 0) throw_errno("cannot create " + path_);
  Bytes header(kMagic, kMagic + 4);
  header.push_back(kVersion);
  header.push_back(kWrapAesGcm);
  codec::seal_append(data_key, pack_key_, header_aad(info_.name), header);
  info_.wrapped_key.assign(header.begin() + 6, header.end());
  write_all(fd_, header, path_);
  size_ = header.size();
}

PackWriter::~PackWriter() {
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

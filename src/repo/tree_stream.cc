#include "repo/tree_stream.h"

#include <cstring>

namespace sr::repo {

TreeWriter::TreeWriter(Repository& repo, WriteStats* stats)
    : repo_(repo), stats_(stats), chunker_(repo.make_chunker()) {}

void TreeWriter::add(const Entry& e) {
  ByteWriter rec;
  encode_entry(e, rec);
  ByteWriter len;
  len.varint(rec.buffer().size());
  buf_.insert(buf_.end(), len.buffer().begin(), len.buffer().end());
  buf_.insert(buf_.end(), rec.buffer().begin(), rec.buffer().end());
  cut(false);
}

void TreeWriter::cut(bool eof) {
  size_t start = 0;
  while (start < buf_.size()) {
    auto n = chunker_->scan(ByteSpan(buf_).subspan(start), eof);
    if (!n) break;
    auto stored = repo_.store_chunk(BlobType::kTree, ByteSpan(buf_).subspan(start, *n), {}, stats_);
    ids_.push_back(to_hex(stored.ref.id));
    stored_ += stored.ref.stored_length;
    start += *n;
  }
  buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(start));
}

std::vector<std::string> TreeWriter::finish() {
  cut(true);
  return std::move(ids_);
}

TreeReader::TreeReader(Repository& repo, const Manifest& m)
    : repo_(repo), ids_(m.tree), what_("tree of backup " + m.id) {}

bool TreeReader::fill(size_t need) {
  while (buf_.size() - pos_ < need) {
    if (next_chunk_ >= ids_.size()) return false;
    Bytes raw = from_hex(ids_[next_chunk_++]);
    codec::ChunkId id;
    std::memcpy(id.data(), raw.data(), 32);
    Bytes chunk = repo_.read_chunk(id);
    buf_.erase(buf_.begin(), buf_.begin() + static_cast<ptrdiff_t>(pos_));
    pos_ = 0;
    buf_.insert(buf_.end(), chunk.begin(), chunk.end());
  }
  return true;
}

std::optional<Entry> TreeReader::next() {
  if (!fill(1)) return std::nullopt;
  // Varint length prefix: at most 10 bytes.
  uint64_t len = 0;
  size_t i = 0;
  for (int shift = 0;; shift += 7, ++i) {
    if (shift >= 64 || !fill(i + 1))
      throw Error(Errc::kCorrupt, what_ + " is damaged: bad record length");
    uint8_t b = buf_[pos_ + i];
    len |= uint64_t(b & 0x7f) << shift;
    if (!(b & 0x80)) break;
  }
  if (len > (1u << 30)) throw Error(Errc::kCorrupt, what_ + " is damaged: record too large");
  size_t head = i + 1;
  if (!fill(head + len)) throw Error(Errc::kCorrupt, what_ + " is damaged: truncated record");
  Entry e = decode_entry(ByteSpan(buf_).subspan(pos_ + head, len), what_);
  pos_ += head + len;
  return e;
}

}  // namespace sr::repo

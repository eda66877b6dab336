// codec/chunker.h: where streams are cut into chunks.
//
// CdcChunker is FastCDC-style content-defined chunking with normalized chunking: a gear rolling
// hash over the last 64 bytes, a stricter mask before the average size and a looser one after it,
// a minimum size below which no cut is searched and a maximum at which a cut is forced. A cut
// depends only on the bytes since the previous cut, so an insertion moves at most the chunks
// around it and later boundaries come back ("stable under insertions"). The gear table is derived
// from a per-repository secret seed, so chunk sizes do not reveal file contents to someone who
// sees the repository.
//
// The chunker is resumable: scan() is called as more bytes of the current chunk arrive and
// remembers how far it looked. It is not thread-safe; use one per stream.
//
// FixedChunker cuts every `block` bytes: for block-structured files (PostgreSQL relation
// segments: 8 KiB pages) where content-defined cuts would be pointless.
#pragma once

#include <array>
#include <cstdint>
#include <optional>

#include "base/bytes.h"
#include "codec/crypto.h"

namespace sr::codec {

struct ChunkerParams {
  uint32_t min_size = 512 * 1024;
  uint32_t avg_size = 1024 * 1024;
  uint32_t max_size = 4 * 1024 * 1024;
  void validate() const;  // throws kCorrupt when inconsistent
};

class Chunker {
 public:
  virtual ~Chunker() = default;
  // `data` is the current chunk so far (it always starts at the previous cut). Returns the cut
  // length when one is found, or nullopt if more data is needed. At eof a cut is always returned
  // (the whole rest, if nothing earlier).
  virtual std::optional<size_t> scan(ByteSpan data, bool eof) = 0;
  virtual void reset() = 0;
  virtual size_t max_size() const = 0;
};

class CdcChunker final : public Chunker {
 public:
  CdcChunker(const ChunkerParams& params, const Key32& seed);
  std::optional<size_t> scan(ByteSpan data, bool eof) override;
  void reset() override {
    pos_ = 0;
    hash_ = 0;
  }
  size_t max_size() const override { return params_.max_size; }

 private:
  ChunkerParams params_;
  uint64_t mask_small_, mask_large_;
  std::array<uint64_t, 256> gear_;
  size_t pos_ = 0;
  uint64_t hash_ = 0;
};

class FixedChunker final : public Chunker {
 public:
  explicit FixedChunker(size_t block) : block_(block) {}
  std::optional<size_t> scan(ByteSpan data, bool eof) override {
    if (data.size() >= block_) return block_;
    if (eof) return data.size();
    return std::nullopt;
  }
  void reset() override {}
  size_t max_size() const override { return block_; }

 private:
  size_t block_;
};

}  // namespace sr::codec

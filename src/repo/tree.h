// repo/tree.h: the tree stream: one record per file system entry, in walk order.
//
// A backup's tree is a byte stream of length-prefixed records (varint length, then the record),
// cut into chunks by the content-defined chunker and stored as tree blobs, so unchanged parts of
// a tree deduplicate like file data and no tree needs to fit in memory. Records come in walk
// order: depth first, children sorted by name bytes, which is the order path_less() defines;
// a later backup merge-joins its walk with its parent's tree in that order.
//
// Paths are relative, '/'-separated, each component non-empty, not "." or "..", without NUL.
// decode_entry() rejects anything else, so a crafted tree cannot name a file outside the target.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/path_order.h"
#include "codec/crypto.h"

namespace sr::repo {

enum class EntryKind : uint8_t {
  kDir = 1,
  kFile = 2,
  kSymlink = 3,
  kHardlink = 4,
  kFifo = 5,
  kCharDev = 6,
  kBlockDev = 7
};

// A piece of a file: a chunk, a hole, or (block-structured files) a base chunk with a delta
// chunk holding the pages that changed since the base was stored.
struct ChunkRef {
  codec::ChunkId id{};
  uint32_t raw_length = 0;
  uint32_t stored_length = 0;
  bool hole = false;  // a hole of raw_length bytes (sparse file): no chunk
  // Delta (only with a base chunk): its chunk and the page numbers (within this piece) it holds.
  bool has_delta = false;
  codec::ChunkId delta_id{};
  uint32_t delta_raw_length = 0, delta_stored_length = 0;
  std::vector<uint16_t> delta_pages;
};

struct Entry {
  EntryKind kind = EntryKind::kFile;
  std::string path;
  uint32_t mode = 0;  // permission bits (07777)
  uint32_t uid = 0, gid = 0;
  std::string user, group;
  int64_t mtime_ns = 0, ctime_ns = 0;
  uint64_t inode = 0, device = 0, rdev = 0;
  uint64_t size = 0;
  std::string link_target;  // symlink target, or hardlink: path of the first link
  std::vector<ChunkRef> chunks;
  // Block-structured files (PostgreSQL relations): a keyed 64-bit hash of every page (the block
  // map), which the next backup compares to find changed pages without reading file data.
  // Small maps are kept inline (page_hashes). Larger ones are a blob holding the map as it was
  // when stored (page_map_base) plus the pages whose hash changed since (page_map_delta), so an
  // incremental costs a few bytes per changed page in the tree, not 8 bytes per page; see
  // ops/block_file.h (load_page_map) for reading it back.
  uint32_t page_size = 0;  // 0: no block map
  std::vector<uint64_t> page_hashes;
  bool page_map_blob = false;
  uint64_t page_count = 0;  // pages in the map (blob form)
  codec::ChunkId page_map_base{};
  std::vector<std::pair<uint32_t, uint64_t>> page_map_delta;  // (page, hash), ascending pages
};

// Copies the block map fields of `from` into `to`.
void copy_page_map(const Entry& from, Entry& to);

// A delta chunk's plaintext holds the pages of a piece that differ from its base chunk:
//   form 1: u32 page size | u32 count | count × u16 page number (ascending) | the pages
//   form 2: u32 0 | u32 page size | u32 count | count × u16 page number (ascending) |
//           count × (varint length | a zstd frame of the page that refers to the base's page at
//           the same place as its prefix)
// Form 2 (encode_prefixed_delta) stores a page that changed a little in a few dozen bytes; it
// needs the base piece when it is written and when it is applied. decode_delta checks either
// against the piece it patches (raw_length bytes); apply_delta patches the base in place.
Bytes encode_delta(uint32_t page_size, const std::vector<uint16_t>& pages, ByteSpan piece);
Bytes encode_prefixed_delta(uint32_t page_size, const std::vector<uint16_t>& pages, ByteSpan piece,
                            ByteSpan base);
struct Delta {
  uint32_t page_size = 0;
  std::vector<uint16_t> pages;
  ByteSpan data;                 // form 1: pages back to back, into the decoded buffer
  std::vector<ByteSpan> frames;  // form 2: one frame per page
};
Delta decode_delta(ByteSpan plaintext, uint32_t piece_length, const std::string& what);
// `piece` holds the base chunk's plaintext; on return, the backed-up piece.
void apply_delta(const Delta& d, std::span<uint8_t> piece, const std::string& what);

bool valid_relative_path(std::string_view path);
using sr::path_less;  // base/path_order.h

void encode_entry(const Entry& e, ByteWriter& out);
Entry decode_entry(ByteSpan record, const std::string& what);

}  // namespace sr::repo

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

struct ChunkRef {
  codec::ChunkId id{};
  uint32_t raw_length = 0;
  uint32_t stored_length = 0;
  bool hole = false;  // a hole of raw_length bytes (sparse file): no chunk
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
};

bool valid_relative_path(std::string_view path);
// Orders paths component by component (as a sorted depth-first walk visits them).
bool path_less(std::string_view a, std::string_view b);

void encode_entry(const Entry& e, ByteWriter& out);
Entry decode_entry(ByteSpan record, const std::string& what);

}  // namespace sr::repo

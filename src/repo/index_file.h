// repo/index_file.h: index objects (index/<id>): which chunks each pack holds and where.
//
// An index object lists packs with their wrapped keys, sizes and blob entries. Index objects are
// written after the packs they describe and before any manifest that references those chunks,
// so a manifest never points at an unindexed chunk. Payload (inside an envelope):
//   u8 version=1 | varint pack count | per pack: 32-byte name | bytes wrapped key |
//   varint size | blob entries (see pack.h)
#pragma once

#include <vector>

#include "repo/pack.h"

namespace sr::repo {

Bytes encode_index(const std::vector<PackInfo>& packs);
std::vector<PackInfo> decode_index(ByteSpan payload, const std::string& what);

}  // namespace sr::repo

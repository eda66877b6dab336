// codec/compress.h: zstd compression of chunks and metadata.
//
// compress() returns false when compression does not save at least 1/32 of the input, so that
// incompressible chunks (already-compressed or encrypted files) are stored raw and restore skips
// decompression for them. Contexts are kept per thread. Thread-safe.
#pragma once

#include <optional>

#include "base/bytes.h"

namespace sr::codec {

// Compresses `in` into `out` (replacing its contents). Returns false if it was not worth it.
bool compress(ByteSpan in, int level, Bytes& out);
// The hot-path variant: compresses into `scratch`, which only ever grows (no clearing per call),
// and returns the compressed length, or nullopt when compression does not save 1/32. Large
// inputs are probed first (three 16 KiB samples at level 1): random-looking data (media,
// archives, encrypted files) skips the full compression, which would be wasted work.
std::optional<size_t> compress_into(ByteSpan in, int level, Bytes& scratch);
Bytes compress_always(ByteSpan in, int level);
// compress_into for one large object on all cores (zstd's own worker threads): WAL segments,
// which arrive one at a time and would otherwise compress on a single core.
std::optional<size_t> compress_into_parallel(ByteSpan in, int level, Bytes& scratch);
// Decompresses into `out`; `expected_size` is the known plaintext size (from the index).
void decompress(ByteSpan in, size_t expected_size, Bytes& out, const char* what);
Bytes decompress_any(ByteSpan in, size_t max_size, const char* what);

}  // namespace sr::codec

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
// For one large object on all cores (WAL segments, which arrive one at a time): `in` is cut
// into parts (at least 4 MiB each, at most one per core), each compressed as its own zstd frame
// on its own thread, straight into `dst` (capacity >= compress_split_bound(in.size())); the
// frames are concatenated, and decompress() reads them as one. Returns the compressed length,
// or nullopt when compression does not save 1/32 (or a probe says it would not).
size_t compress_split_bound(size_t n);
// `max_parts` limits the parts (0: one per core; a caller compressing several objects at once
// says 1).
std::optional<size_t> compress_split(ByteSpan in, int level, uint8_t* dst, size_t capacity,
                                     size_t max_parts = 0);
// One zstd frame of `in` that may refer to `prefix` (raw content: the previous version of the
// same bytes), appended to `out`: for a page that changed a little the frame holds little more
// than the changes. decompress_with_prefix needs the same prefix; `out` must be exactly the
// original size.
void compress_with_prefix(ByteSpan in, ByteSpan prefix, int level, Bytes& out);
void decompress_with_prefix(ByteSpan frame, ByteSpan prefix, std::span<uint8_t> out,
                            const char* what);
// Decompresses into `out`; `expected_size` is the known plaintext size (from the index).
void decompress(ByteSpan in, size_t expected_size, Bytes& out, const char* what);
// Decompresses into `out`, which must be exactly the known plaintext size.
void decompress_to(ByteSpan in, std::span<uint8_t> out, const char* what);
Bytes decompress_any(ByteSpan in, size_t max_size, const char* what);

}  // namespace sr::codec

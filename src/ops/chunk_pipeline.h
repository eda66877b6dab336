// ops/chunk_pipeline.h: turns a byte stream into stored chunks, in parallel, in bounded memory.
//
// store_stream() reads a file descriptor in 1 MiB steps, cuts chunks with the repository's
// content-defined chunker, and hands each chunk to the worker pool, which hashes, deduplicates,
// compresses, encrypts and appends it to a pack (Repository::store_chunk). It returns the chunk
// references in stream order once all of them are stored. Memory is bounded by the pool's queue:
// at most queue_limit + threads chunks (each at most the chunker's maximum size) are in flight.
// A stream that fits in one chunk is stored by the calling thread (no hand-off for small files).
// Several threads may call store_stream at once (one stream each).
#pragma once

#include <atomic>
#include <optional>
#include <vector>

#include "base/context.h"
#include "base/worker_pool.h"
#include "repo/repository.h"

namespace sr::ops {

using sr::Counters;  // base/context.h

class ChunkPipeline {
 public:
  // `stats` (optional) counts what this operation adds to the repository.
  ChunkPipeline(repo::Repository& repo, WorkerPool& pool, Counters* counters,
                repo::WriteStats* stats = nullptr)
      : repo_(repo), pool_(pool), counters_(counters), stats_(stats) {}
  // Reads up to `limit` bytes (all, to EOF, when nullopt) from fd's current position.
  // `size_hint` (the expected length, e.g. from fstat) sizes the first read, so that a small
  // file costs one small buffer instead of a full read step.
  uint64_t store_stream(int fd, std::optional<uint64_t> limit, std::vector<repo::ChunkRef>& out,
                        const std::string& what, std::optional<uint64_t> size_hint = std::nullopt);

 private:
  repo::Repository& repo_;
  WorkerPool& pool_;
  Counters* counters_;
  repo::WriteStats* stats_;
};

}  // namespace sr::ops

// ops/chunk_pipeline.h: turns a byte stream into stored chunks, in parallel, in bounded memory.
//
// store_stream() reads a file descriptor in 1 MiB steps, cuts chunks with the repository's
// content-defined chunker, and hands each chunk to the worker pool, which hashes, deduplicates,
// compresses, encrypts and appends it to a pack (Repository::store_chunk). It returns the chunk
// references in stream order once all of them are stored. Memory is bounded by the pool's queue:
// at most queue_limit + threads chunks (each at most the chunker's maximum size) are in flight.
// A stream that fits in one chunk is stored by the calling thread (no hand-off for small files).
// Several threads may call store_stream at once (one stream each). Progress goes to ctx.progress;
// ctx.check_cancelled() is called before each chunk is handed on (Errc::kCancelled).
#pragma once

#include <atomic>
#include <memory>
#include <optional>
#include <vector>

#include "base/context.h"
#include "base/worker_pool.h"
#include "repo/repository.h"

namespace sr::ops {

using sr::Counters;  // base/context.h

class ChunkPipeline {
 public:
  // `ctx` must outlive the pipeline. `stats` (optional) counts what this operation adds to the
  // repository.
  ChunkPipeline(repo::Repository& repo, WorkerPool& pool, const OpContext& ctx,
                repo::WriteStats* stats = nullptr)
      : repo_(repo), pool_(pool), ctx_(ctx), stats_(stats) {}
  // Reads up to `limit` bytes (all, to EOF, when nullopt) from fd's current position.
  // `size_hint` (the expected length, e.g. from fstat) sizes the first read, so that a small
  // file costs one small buffer instead of a full read step.
  uint64_t store_stream(int fd, std::optional<uint64_t> limit, std::vector<repo::ChunkRef>& out,
                        const std::string& what, std::optional<uint64_t> size_hint = std::nullopt);

 private:
  struct Batch;  // the chunks of one stream in flight
  // Stores one chunk: here when it is the whole stream, else on the pool into *slot.
  void emit(Bytes chunk, bool whole_stream, const std::shared_ptr<Batch>& batch,
            repo::ChunkRef* slot);

  repo::Repository& repo_;
  WorkerPool& pool_;
  const OpContext& ctx_;
  repo::WriteStats* stats_;
};

}  // namespace sr::ops

#include "ops/chunk_pipeline.h"

#include <unistd.h>

#include <condition_variable>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>

#include "base/fs.h"

namespace sr::ops {

namespace {
constexpr size_t kReadStep = 1 << 20;

struct Batch {
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = 0;
  std::exception_ptr error;
};
}  // namespace

uint64_t ChunkPipeline::store_stream(int fd, std::optional<uint64_t> limit,
                                     std::vector<repo::ChunkRef>& out, const std::string& what,
                                     std::optional<uint64_t> size_hint) {
  auto chunker = repo_.make_chunker();
  const size_t max = chunker->max_size();
  auto batch = std::make_shared<Batch>();
  std::deque<repo::ChunkRef> refs;  // stable addresses while workers fill them in
  uint64_t total = 0;
  bool eof = false;
  bool first = true;
  Bytes buf;
  // The first read asks for one byte more than expected, to see the end of a file in one call.
  size_t step =
      size_hint ? static_cast<size_t>(std::min<uint64_t>(*size_hint + 1, kReadStep)) : kReadStep;

  Counters* const counters = ctx_.progress;
  auto emit = [&](Bytes chunk, bool last) {
    ctx_.check_cancelled("backup");
    refs.emplace_back();
    repo::ChunkRef* slot = &refs.back();
    if (first && last) {  // the whole stream is one chunk: store it here
      slot->raw_length = static_cast<uint32_t>(chunk.size());
      *slot = repo_.store_chunk(repo::BlobType::kData, chunk).ref;
      if (counters) counters->bytes += chunk.size();
      return;
    }
    {
      std::lock_guard lock(batch->mu);
      if (batch->error) std::rethrow_exception(batch->error);
      ++batch->outstanding;
    }
    auto data = std::make_shared<Bytes>(std::move(chunk));
    pool_.submit([this, batch, data, slot, counters] {
      try {
        *slot = repo_.store_chunk(repo::BlobType::kData, *data).ref;
        if (counters) counters->bytes += data->size();
      } catch (...) {
        std::lock_guard lock(batch->mu);
        if (!batch->error) batch->error = std::current_exception();
      }
      std::lock_guard lock(batch->mu);
      if (--batch->outstanding == 0) batch->cv.notify_all();
    });
  };

  try {
    while (!eof || !buf.empty()) {
      // Fill.
      if (!eof && buf.size() < max) {
        size_t want = std::min(step, max - buf.size());
        step = kReadStep;
        if (limit) want = static_cast<size_t>(std::min<uint64_t>(want, *limit - total));
        size_t old = buf.size();
        buf.resize(old + want);
        size_t n = 0;
        try {
          n = want ? read_full(fd, std::span<uint8_t>(buf.data() + old, want), what) : 0;
        } catch (const Error& e) {
          // Reading the source failed (not the repository): the caller decides to skip it.
          throw Error(Errc::kSourceUnreadable, e.what());
        }
        buf.resize(old + n);
        total += n;
        if (n < want || want == 0 || (limit && total >= *limit)) eof = true;
      }
      if (buf.empty()) break;
      // Cut as many chunks as the buffer allows.
      for (;;) {
        auto cut = chunker->scan(buf, eof);
        if (!cut) break;
        bool last = eof && *cut == buf.size();
        Bytes rest(buf.begin() + static_cast<ptrdiff_t>(*cut), buf.end());
        buf.resize(*cut);
        Bytes chunk = std::move(buf);
        buf = std::move(rest);
        emit(std::move(chunk), last);
        first = false;
        if (buf.empty()) break;
      }
    }
  } catch (...) {
    std::unique_lock lock(batch->mu);
    batch->cv.wait(lock, [&] { return batch->outstanding == 0; });
    throw;
  }
  std::unique_lock lock(batch->mu);
  batch->cv.wait(lock, [&] { return batch->outstanding == 0; });
  if (batch->error) std::rethrow_exception(batch->error);
  out.insert(out.end(), refs.begin(), refs.end());
  return total;
}

}  // namespace sr::ops

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

// Appends up to `want` bytes read from fd to buf; returns how many. Failing to read the source
// (not the repository) is kSourceUnreadable: the caller decides to skip it.
size_t read_more(int fd, Bytes& buf, size_t want, const std::string& what) {
  size_t old = buf.size();
  buf.resize(old + want);
  size_t n = 0;
  try {
    n = want ? read_full(fd, std::span<uint8_t>(buf.data() + old, want), what) : 0;
  } catch (const Error& e) {
    throw Error(Errc::kSourceUnreadable, e.what());
  }
  buf.resize(old + n);
  return n;
}
}  // namespace

struct ChunkPipeline::Batch {
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = 0;
  std::exception_ptr error;

  void wait_idle() {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return outstanding == 0; });
  }
};

void ChunkPipeline::emit(Bytes chunk, bool whole_stream, const std::shared_ptr<Batch>& batch,
                         repo::ChunkRef* slot) {
  ctx_.check_cancelled("backup");
  Counters* const counters = ctx_.progress;
  if (whole_stream) {  // the whole stream is one chunk: store it here
    slot->raw_length = static_cast<uint32_t>(chunk.size());
    *slot = repo_.store_chunk(repo::BlobType::kData, chunk, {}, stats_).ref;
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
      *slot = repo_.store_chunk(repo::BlobType::kData, *data, {}, stats_).ref;
      if (counters) counters->bytes += data->size();
    } catch (...) {
      std::lock_guard lock(batch->mu);
      if (!batch->error) batch->error = std::current_exception();
    }
    std::lock_guard lock(batch->mu);
    if (--batch->outstanding == 0) batch->cv.notify_all();
  });
}

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
  try {
    while (!eof || !buf.empty()) {
      if (!eof && buf.size() < max) {  // fill
        size_t want = std::min(step, max - buf.size());
        step = kReadStep;
        if (limit) want = static_cast<size_t>(std::min<uint64_t>(want, *limit - total));
        size_t n = read_more(fd, buf, want, what);
        total += n;
        if (n < want || want == 0 || (limit && total >= *limit)) eof = true;
      }
      if (buf.empty()) break;
      for (;;) {  // cut as many chunks as the buffer allows
        auto cut = chunker->scan(buf, eof);
        if (!cut) break;
        bool last = eof && *cut == buf.size();
        Bytes rest(buf.begin() + static_cast<ptrdiff_t>(*cut), buf.end());
        buf.resize(*cut);
        Bytes chunk = std::move(buf);
        buf = std::move(rest);
        refs.emplace_back();
        emit(std::move(chunk), first && last, batch, &refs.back());
        first = false;
        if (buf.empty()) break;
      }
    }
  } catch (...) {
    batch->wait_idle();
    throw;
  }
  batch->wait_idle();
  if (batch->error) std::rethrow_exception(batch->error);
  out.insert(out.end(), refs.begin(), refs.end());
  return total;
}

}  // namespace sr::ops

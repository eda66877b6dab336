#include "ops/block_file.h"

#include <unistd.h>
#include <xxhash.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "base/fs.h"
#include "pg/page.h"

namespace sr::ops {

using repo::ChunkRef;

namespace {
constexpr uint32_t kPagesPerPiece = 128;
constexpr int kChecksumRetries = 5;

struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = 0;
  std::exception_ptr error;
};
}  // namespace

void read_block_file(repo::Repository& repo, WorkerPool& pool, Counters* counters, int fd,
                     const std::string& path, uint32_t segment_block_base,
                     const repo::Entry* parent, const PageOptions& o, repo::Entry& out,
                     const std::function<void(const std::string&)>& warn) {
  const uint32_t ps = o.page_size;
  const size_t piece_size = size_t{ps} * kPagesPerPiece;
  // A parent map is usable only with the same page size.
  if (parent && (parent->page_size != ps || parent->page_hashes.empty())) parent = nullptr;
  // The parent's pieces by index (all full pieces except maybe the last).
  std::vector<const ChunkRef*> parent_pieces;
  if (parent)
    for (const auto& c : parent->chunks) parent_pieces.push_back(&c);

  out.chunks.clear();
  out.page_hashes.clear();
  out.page_size = ps;
  auto pending = std::make_shared<Pending>();
  std::deque<ChunkRef> refs;    // stable addresses for the workers
  std::deque<ChunkRef> deltas;  // delta chunk results, copied into refs after the wait
  std::vector<std::pair<size_t, size_t>> delta_of;  // (ref index, delta index)
  uint64_t total = 0, failures = 0;

  auto submit = [&](Bytes data, ChunkRef* slot) {
    {
      std::lock_guard lock(pending->mu);
      if (pending->error) std::rethrow_exception(pending->error);
      ++pending->outstanding;
    }
    auto buf = std::make_shared<Bytes>(std::move(data));
    pool.submit([&repo, pending, buf, slot, counters] {
      try {
        *slot = repo.store_chunk(repo::BlobType::kData, *buf).ref;
      } catch (...) {
        std::lock_guard lock(pending->mu);
        if (!pending->error) pending->error = std::current_exception();
      }
      std::lock_guard lock(pending->mu);
      if (--pending->outstanding == 0) pending->cv.notify_all();
    });
  };
  auto wait_all = [&] {
    std::unique_lock lock(pending->mu);
    pending->cv.wait(lock, [&] { return pending->outstanding == 0; });
    if (pending->error) std::rethrow_exception(pending->error);
  };

  try {
    for (size_t piece = 0;; ++piece) {
      Bytes buf(piece_size);
      size_t n = read_full(fd, buf, path);
      if (n == 0) break;
      buf.resize(n);
      total += n;
      const uint32_t pages = static_cast<uint32_t>((n + ps - 1) / ps);
      const size_t first_page = piece * kPagesPerPiece;
      // Hash (and check) every page.
      for (uint32_t p = 0; p < pages; ++p) {
        const size_t page_off = size_t{p} * ps;
        const size_t page_len = std::min<size_t>(ps, n - page_off);
        ByteSpan page(buf.data() + page_off, page_len);
        if (o.verify_checksums && page.size() == ps) {
          uint32_t blkno = segment_block_base + static_cast<uint32_t>(first_page + p);
          int tries = 0;
          while (!pg::page_checksum_ok(page, blkno) && pg::page_lsn(page) < o.start_lsn &&
                 tries++ < kChecksumRetries) {
            // Perhaps torn by a concurrent write: read the page again.
            std::this_thread::sleep_for(std::chrono::milliseconds(10 * tries));
            Bytes again(ps);
            pread_exact(fd, again, (first_page + p) * uint64_t{ps}, path);
            std::memcpy(buf.data() + size_t{p} * ps, again.data(), ps);
          }
          if (!pg::page_checksum_ok(page, blkno) && pg::page_lsn(page) < o.start_lsn) {
            if (failures++ < 10)
              warn("page checksum failure in " + path + " block " + std::to_string(blkno) +
                   " (stored " + std::to_string(pg::page_stored_checksum(page)) + ", computed " +
                   std::to_string(pg::page_checksum(page, blkno)) +
                   "): the page is backed up as it is");
          }
        }
        out.page_hashes.push_back(XXH3_64bits_withSeed(page.data(), page.size(), o.hash_seed));
      }
      if (counters) counters->bytes += n;
      // Compare with the parent's piece.
      const ChunkRef* prev = piece < parent_pieces.size() ? parent_pieces[piece] : nullptr;
      if (prev && (prev->hole || prev->raw_length != n)) prev = nullptr;
      std::vector<uint16_t> changed;
      if (prev) {
        for (uint32_t p = 0; p < pages; ++p) {
          size_t i = first_page + p;
          if (i >= parent->page_hashes.size() || parent->page_hashes[i] != out.page_hashes[i])
            changed.push_back(static_cast<uint16_t>(p));
        }
      }
      refs.emplace_back();
      if (prev && changed.empty()) {
        refs.back() = *prev;  // unchanged since the parent
        continue;
      }
      if (prev) {
        // Pages differing from the base: the parent's delta pages and the newly changed ones.
        std::vector<uint16_t> dp = prev->has_delta ? prev->delta_pages : std::vector<uint16_t>{};
        dp.insert(dp.end(), changed.begin(), changed.end());
        std::sort(dp.begin(), dp.end());
        dp.erase(std::unique(dp.begin(), dp.end()), dp.end());
        if (dp.size() * 2 <= pages) {
          ChunkRef& r = refs.back();
          r = *prev;
          r.has_delta = true;
          r.delta_pages = dp;
          deltas.emplace_back();
          delta_of.emplace_back(refs.size() - 1, deltas.size() - 1);
          submit(repo::encode_delta(ps, dp, buf), &deltas.back());
          continue;
        }
      }
      submit(std::move(buf), &refs.back());  // a new base piece
    }
  } catch (...) {
    std::unique_lock lock(pending->mu);
    pending->cv.wait(lock, [&] { return pending->outstanding == 0; });
    throw;
  }
  wait_all();
  for (auto [ri, di] : delta_of) {
    refs[ri].delta_id = deltas[di].id;
    refs[ri].delta_raw_length = deltas[di].raw_length;
    refs[ri].delta_stored_length = deltas[di].stored_length;
  }
  out.chunks.assign(refs.begin(), refs.end());
  out.size = total;
}

}  // namespace sr::ops

#include "ops/block_file.h"

#include <unistd.h>
#include <xxhash.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "base/fs.h"
#include "pg/page.h"

namespace sr::ops {

using repo::ChunkRef;

namespace {
constexpr uint32_t kPagesPerPiece = 128;
constexpr int kChecksumRetries = 5;
// zstd levels for pages, in 1 MiB pieces (zstd -b, this machine). Heap pages: level 1 is both
// faster and smaller than 3 (pgbench: 2.1 GB/s, 35.6x against 1.7 GB/s, 33.6x). Index pages
// changed by updates (B-tree leaves after inserts and splits) gain from the double-fast match
// finder: level 3 stores them 24 % smaller (5.8x against 4.4x) at 360 MB/s against 466; a freshly
// built index gains 1 % (6.53x against 6.46x), so only incrementals use it (dense_indexes).
// Which is which is read from the page header: index pages have a special space (pd_special <
// page size), heap pages none.
constexpr int kPageCompressionLevel = 1;
constexpr int kIndexPageLevel = 3;

// The level for a piece: kIndexPageLevel when its first initialised page has a special space.
int piece_level(ByteSpan piece, uint32_t ps) {
  for (size_t off = 0; off + ps <= piece.size(); off += ps) {
    ByteSpan page = piece.subspan(off, ps);
    if (pg::page_is_new(page)) continue;
    return pg::page_special_offset(page) < ps ? kIndexPageLevel : kPageCompressionLevel;
  }
  return kPageCompressionLevel;
}
// Maps of fewer pages stay inline in the tree entry.
constexpr size_t kInlineMapPages = 256;
// A new map blob once more than 1 / kRebaseFraction of the pages differ from the stored one.
constexpr size_t kRebaseFraction = 6;
// A piece with at most this many pages differing from its base stores them as frames against
// the base's pages (form 2 deltas, see repo/tree.h); more take the plain form, which needs no
// read of the base (after busy hours most pieces have many changed pages, and reading every
// base back would cost more than it saves).
constexpr size_t kPrefixedDeltaPages = 16;
// Spare piece buffers kept for reuse (the worker pool's queue bounds how many are in flight).
constexpr size_t kSpareBuffers = 16;

// Stores the block map of `out` (page_hashes filled): inline, as changes against the parent's
// map blob `base`, or as a new blob.
void store_page_map(repo::Repository& repo, const repo::Entry* parent,
                    const std::vector<uint64_t>* base, repo::Entry& out, repo::WriteStats* stats) {
  const auto& h = out.page_hashes;
  out.page_map_blob = false;
  out.page_map_delta.clear();
  if (h.size() < kInlineMapPages) return;
  out.page_map_blob = true;
  out.page_count = h.size();
  if (parent && base) {
    std::vector<std::pair<uint32_t, uint64_t>> delta;
    for (size_t i = 0; i < h.size() && delta.size() * kRebaseFraction <= h.size(); ++i)
      if (i >= base->size() || (*base)[i] != h[i])
        delta.emplace_back(static_cast<uint32_t>(i), h[i]);
    if (delta.size() * kRebaseFraction <= h.size()) {
      out.page_map_base = parent->page_map_base;
      out.page_map_delta = std::move(delta);
      out.page_hashes.clear();
      return;
    }
  }
  ByteWriter w;
  for (uint64_t v : h) w.u64(v);
  out.page_map_base = repo.store_chunk(repo::BlobType::kTree, w.buffer(), {}, stats).ref.id;
  out.page_hashes.clear();
}

struct Pending {
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = 0;
  std::exception_ptr error;
  // Piece buffers handed back by the workers: a new piece reuses one instead of allocating (and
  // zero-filling) a fresh megabyte, which cost 8 % of a full backup's CPU.
  std::vector<Bytes> spare;

  Bytes take(size_t size) {
    Bytes b;
    {
      std::lock_guard lock(mu);
      if (!spare.empty()) {
        b = std::move(spare.back());
        spare.pop_back();
      }
    }
    b.resize(size);  // zero-fills only what this buffer never held
    return b;
  }
  void give(Bytes&& b) {
    std::lock_guard lock(mu);
    if (spare.size() < kSpareBuffers) spare.push_back(std::move(b));
  }
};
}  // namespace

void read_block_file(repo::Repository& repo, WorkerPool& pool, Counters* counters, int fd,
                     const std::string& path, uint32_t segment_block_base,
                     const repo::Entry* parent, const PageOptions& o, repo::Entry& out,
                     const std::function<void(const std::string&)>& warn) {
  const uint32_t ps = o.page_size;
  const size_t piece_size = size_t{ps} * kPagesPerPiece;
  // A parent map is usable only with the same page size.
  if (parent && parent->page_size != ps) parent = nullptr;
  std::vector<uint64_t> parent_hashes, parent_base;
  if (parent) {
    parent_hashes = load_page_map(repo, *parent, &parent_base);
    if (parent_hashes.empty()) parent = nullptr;
  }
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

  // Stores `data` (or what `encode` makes of it) as the chunk of `slot`, on a worker, at `level`.
  auto submit = [&](Bytes data, ChunkRef* slot, std::function<Bytes(ByteSpan)> encode = {},
                    int level = kPageCompressionLevel) {
    {
      std::lock_guard lock(pending->mu);
      if (pending->error) std::rethrow_exception(pending->error);
      ++pending->outstanding;
    }
    auto buf = std::make_shared<Bytes>(std::move(data));
    pool.submit([&repo, pending, buf, slot, encode = std::move(encode), level, stats = o.stats] {
      try {
        if (encode)
          *slot = repo.store_chunk(repo::BlobType::kData, encode(*buf), level, stats).ref;
        else
          *slot = repo.store_chunk(repo::BlobType::kData, *buf, level, stats).ref;
      } catch (...) {
        std::lock_guard lock(pending->mu);
        if (!pending->error) pending->error = std::current_exception();
      }
      pending->give(std::move(*buf));
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
      Bytes buf = pending->take(piece_size);
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
        out.page_hashes.push_back(page_hash(page, o.hash_seed));
      }
      if (counters) counters->bytes += n;
      const int level = o.dense_indexes ? piece_level(buf, ps) : kPageCompressionLevel;
      // Compare with the parent's piece.
      const ChunkRef* prev = piece < parent_pieces.size() ? parent_pieces[piece] : nullptr;
      if (prev && (prev->hole || prev->raw_length != n)) prev = nullptr;
      std::vector<uint16_t> changed;
      if (prev) {
        for (uint32_t p = 0; p < pages; ++p) {
          size_t i = first_page + p;
          if (i >= parent_hashes.size() || parent_hashes[i] != out.page_hashes[i])
            changed.push_back(static_cast<uint16_t>(p));
        }
      }
      refs.emplace_back();
      if (prev && changed.empty()) {
        refs.back() = *prev;  // unchanged since the parent
        pending->give(std::move(buf));
        continue;
      }
      if (prev) {
        // Pages differing from the base: the parent's delta pages and the newly changed ones.
        std::vector<uint16_t> dp = prev->has_delta ? prev->delta_pages : std::vector<uint16_t>{};
        dp.insert(dp.end(), changed.begin(), changed.end());
        std::sort(dp.begin(), dp.end());
        dp.erase(std::unique(dp.begin(), dp.end()), dp.end());
        // A delta while few pages differ (form 2 stays small even if they are most of a small
        // piece, like a visibility map's), or at most half of the piece.
        if (dp.size() <= kPrefixedDeltaPages || dp.size() * 2 <= pages) {
          ChunkRef& r = refs.back();
          r = *prev;
          r.has_delta = true;
          r.delta_pages = dp;
          deltas.emplace_back();
          delta_of.emplace_back(refs.size() - 1, deltas.size() - 1);
          if (dp.size() <= kPrefixedDeltaPages) {
            // Few pages: each as a zstd frame against its version in the base chunk (read back
            // from the repository), a few dozen bytes for a page with a changed tuple or a new
            // index entry instead of ~2 KiB for the page compressed alone.
            submit(std::move(buf), &deltas.back(),
                   [&repo, base_id = prev->id, dp, ps, path](ByteSpan piece) {
                     Bytes base = repo.read_chunk(base_id);
                     if (base.size() != piece.size())
                       throw Error(Errc::kCorrupt, "the base piece of " + path +
                                                       " has the wrong length in the repository");
                     return repo::encode_prefixed_delta(ps, dp, piece, base);
                   });
          } else {
            submit(repo::encode_delta(ps, dp, buf), &deltas.back(), {}, level);
            pending->give(std::move(buf));
          }
          continue;
        }
      }
      // A new base piece: densely compressed while the backup's budget lasts.
      const bool dense = o.dense_budget && o.dense_budget->fetch_sub(static_cast<int64_t>(n)) >=
                                               static_cast<int64_t>(n);
      submit(std::move(buf), &refs.back(), {}, dense ? kDenseLevel : level);
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
  store_page_map(repo, parent && parent->page_map_blob ? parent : nullptr,
                 parent && parent->page_map_blob ? &parent_base : nullptr, out, o.stats);
}

uint64_t page_hash_seed(const repo::Repository& repo) {
  codec::Key32 seed = codec::hmac_sha256(repo.keys().id_key, as_bytes("page hash seed"));
  uint64_t v;
  std::memcpy(&v, seed.data(), sizeof v);
  return v;
}

uint64_t page_hash(ByteSpan page, uint64_t seed) {
  return XXH3_64bits_withSeed(page.data(), page.size(), seed);
}

std::vector<uint64_t> load_page_map(repo::Repository& repo, const repo::Entry& e,
                                    std::vector<uint64_t>* base) {
  if (!e.page_map_blob) return e.page_hashes;
  const std::string what = "block map of " + e.path;
  Bytes blob = repo.read_chunk(e.page_map_base);
  if (blob.size() % 8 != 0) throw Error(Errc::kCorrupt, what + ": bad length");
  std::vector<uint64_t> stored(blob.size() / 8);
  ByteReader r(blob, what);
  for (auto& v : stored) v = r.u64();
  std::vector<uint64_t> h(stored.begin(),
                          stored.begin() + static_cast<std::ptrdiff_t>(
                                               std::min<uint64_t>(stored.size(), e.page_count)));
  h.resize(static_cast<size_t>(e.page_count));
  for (auto [page, hash] : e.page_map_delta) h[page] = hash;  // decode_entry checked the range
  // Pages beyond the stored map must all be in the delta.
  size_t covered = 0;
  for (auto [page, hash] : e.page_map_delta)
    if (page >= stored.size()) ++covered;
  if (e.page_count > stored.size() && covered != e.page_count - stored.size())
    throw Error(Errc::kCorrupt, what + ": pages missing from the map");
  if (base) *base = std::move(stored);
  return h;
}

}  // namespace sr::ops

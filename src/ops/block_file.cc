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

PieceKind choose_piece_kind(bool has_parent_piece, size_t changed_pages, size_t delta_pages,
                            size_t pages) {
  if (!has_parent_piece) return PieceKind::kNewBase;
  if (changed_pages == 0) return PieceKind::kUnchanged;
  // A delta while few pages differ (form 2 stays small even if they are most of a small piece,
  // like a visibility map's), or at most half of the piece.
  if (delta_pages <= kPrefixedDeltaPages) return PieceKind::kPrefixedDelta;
  if (delta_pages * 2 <= pages) return PieceKind::kPlainDelta;
  return PieceKind::kNewBase;
}

std::vector<uint16_t> merge_delta_pages(const ChunkRef& prev,
                                        const std::vector<uint16_t>& changed) {
  std::vector<uint16_t> dp = prev.has_delta ? prev.delta_pages : std::vector<uint16_t>{};
  dp.insert(dp.end(), changed.begin(), changed.end());
  std::sort(dp.begin(), dp.end());
  dp.erase(std::unique(dp.begin(), dp.end()), dp.end());
  return dp;
}

namespace {
// One call of read_block_file: reads the file piece by piece, hashes (and checks) its pages,
// and stores each piece as the parent's, as a delta against it, or as a new base.
class BlockFileReader {
 public:
  BlockFileReader(repo::Repository& repo, WorkerPool& pool, const OpContext& ctx, int fd,
                  const std::string& path, uint32_t segment_block_base, const PageOptions& o,
                  repo::Entry& out, const std::function<void(const std::string&)>& warn)
      : repo_(repo),
        pool_(pool),
        ctx_(ctx),
        fd_(fd),
        path_(path),
        block_base_(segment_block_base),
        o_(o),
        out_(out),
        warn_(warn),
        ps_(o.page_size) {}

  void run(const repo::Entry* parent) {
    load_parent(parent);
    out_.chunks.clear();
    out_.page_hashes.clear();
    out_.page_size = ps_;
    try {
      for (size_t piece = 0;; ++piece) {
        ctx_.check_cancelled("backup");
        Bytes buf = pending_->take(size_t{ps_} * kPagesPerPiece);
        size_t n = read_full(fd_, buf, path_);
        if (n == 0) break;
        buf.resize(n);
        total_ += n;
        hash_pages(buf, piece);
        if (ctx_.progress) ctx_.progress->bytes += n;
        store_piece(std::move(buf), piece);
      }
    } catch (...) {
      std::unique_lock lock(pending_->mu);
      pending_->cv.wait(lock, [&] { return pending_->outstanding == 0; });
      throw;
    }
    finish();
  }

 private:
  void load_parent(const repo::Entry* parent) {
    // A parent map is usable only with the same page size.
    if (parent && parent->page_size != ps_) parent = nullptr;
    if (parent) {
      parent_hashes_ = load_page_map(repo_, *parent, &parent_base_);
      if (parent_hashes_.empty()) parent = nullptr;
    }
    // The parent's pieces by index (all full pieces except maybe the last).
    if (parent)
      for (const auto& c : parent->chunks) parent_pieces_.push_back(&c);
    parent_ = parent;
  }

  // Hashes every page of the piece (checking checksums when asked).
  void hash_pages(Bytes& buf, size_t piece) {
    const uint32_t pages = static_cast<uint32_t>((buf.size() + ps_ - 1) / ps_);
    const size_t first_page = piece * kPagesPerPiece;
    for (uint32_t p = 0; p < pages; ++p) {
      const size_t page_off = size_t{p} * ps_;
      const size_t page_len = std::min<size_t>(ps_, buf.size() - page_off);
      if (o_.verify_checksums && page_len == ps_) check_page(buf, p, first_page);
      out_.page_hashes.push_back(
          page_hash(ByteSpan(buf.data() + page_off, page_len), o_.hash_seed));
    }
  }

  // Checks page `p` of the piece; a failing page is re-read (a write may have torn it), and one
  // whose LSN is at or after the backup's start is accepted (WAL replay rewrites it).
  void check_page(Bytes& buf, uint32_t p, size_t first_page) {
    ByteSpan page(buf.data() + size_t{p} * ps_, ps_);
    uint32_t blkno = block_base_ + static_cast<uint32_t>(first_page + p);
    int tries = 0;
    while (!pg::page_checksum_ok(page, blkno) && pg::page_lsn(page) < o_.start_lsn &&
           tries++ < kChecksumRetries) {
      // Perhaps torn by a concurrent write: read the page again.
      std::this_thread::sleep_for(std::chrono::milliseconds(10 * tries));
      Bytes again(ps_);
      pread_exact(fd_, again, (first_page + p) * uint64_t{ps_}, path_);
      std::memcpy(buf.data() + size_t{p} * ps_, again.data(), ps_);
    }
    if (!pg::page_checksum_ok(page, blkno) && pg::page_lsn(page) < o_.start_lsn) {
      if (failures_++ < 10)
        warn_("page checksum failure in " + path_ + " block " + std::to_string(blkno) +
              " (stored " + std::to_string(pg::page_stored_checksum(page)) + ", computed " +
              std::to_string(pg::page_checksum(page, blkno)) + "): the page is backed up as it is");
    }
  }

  // Compares the piece with the parent's and stores what differs.
  void store_piece(Bytes buf, size_t piece) {
    const size_t n = buf.size();
    const uint32_t pages = static_cast<uint32_t>((n + ps_ - 1) / ps_);
    const size_t first_page = piece * kPagesPerPiece;
    const int level = o_.dense_indexes ? piece_level(buf, ps_) : kPageCompressionLevel;
    const ChunkRef* prev = piece < parent_pieces_.size() ? parent_pieces_[piece] : nullptr;
    if (prev && (prev->hole || prev->raw_length != n)) prev = nullptr;
    std::vector<uint16_t> changed;
    if (prev)
      for (uint32_t p = 0; p < pages; ++p) {
        size_t i = first_page + p;
        if (i >= parent_hashes_.size() || parent_hashes_[i] != out_.page_hashes[i])
          changed.push_back(static_cast<uint16_t>(p));
      }
    std::vector<uint16_t> dp = prev ? merge_delta_pages(*prev, changed) : std::vector<uint16_t>{};
    refs_.emplace_back();
    switch (choose_piece_kind(prev != nullptr, changed.size(), dp.size(), pages)) {
      case PieceKind::kUnchanged:
        refs_.back() = *prev;
        pending_->give(std::move(buf));
        return;
      case PieceKind::kPrefixedDelta:
      case PieceKind::kPlainDelta:
        store_delta(std::move(buf), *prev, std::move(dp), level);
        return;
      case PieceKind::kNewBase:
        break;
    }
    // A new base piece: densely compressed while the backup's budget lasts.
    const bool dense = o_.dense_budget && o_.dense_budget->fetch_sub(static_cast<int64_t>(n)) >=
                                              static_cast<int64_t>(n);
    submit(std::move(buf), &refs_.back(), {}, dense ? kDenseLevel : level);
  }

  // The piece as the parent's base chunk plus a delta chunk with the pages `dp`.
  void store_delta(Bytes buf, const ChunkRef& prev, std::vector<uint16_t> dp, int level) {
    ChunkRef& r = refs_.back();
    r = prev;
    r.has_delta = true;
    r.delta_pages = dp;
    deltas_.emplace_back();
    delta_of_.emplace_back(refs_.size() - 1, deltas_.size() - 1);
    if (dp.size() <= kPrefixedDeltaPages) {
      // Few pages: each as a zstd frame against its version in the base chunk (read back from
      // the repository), a few dozen bytes for a page with a changed tuple or a new index entry
      // instead of ~2 KiB for the page compressed alone.
      submit(std::move(buf), &deltas_.back(),
             [&repo = repo_, base_id = prev.id, dp, ps = ps_, path = path_](ByteSpan piece) {
               Bytes base = repo.read_chunk(base_id);
               if (base.size() != piece.size())
                 throw Error(Errc::kCorrupt, "the base piece of " + path +
                                                 " has the wrong length in the repository");
               return repo::encode_prefixed_delta(ps, dp, piece, base);
             });
    } else {
      submit(repo::encode_delta(ps_, dp, buf), &deltas_.back(), {}, level);
      pending_->give(std::move(buf));
    }
  }

  // Stores `data` (or what `encode` makes of it) as the chunk of `slot`, on a worker, at `level`.
  void submit(Bytes data, ChunkRef* slot, std::function<Bytes(ByteSpan)> encode = {},
              int level = kPageCompressionLevel) {
    {
      std::lock_guard lock(pending_->mu);
      if (pending_->error) std::rethrow_exception(pending_->error);
      ++pending_->outstanding;
    }
    auto buf = std::make_shared<Bytes>(std::move(data));
    pool_.submit([&repo = repo_, pending = pending_, buf, slot, encode = std::move(encode), level,
                  stats = o_.stats] {
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
  }

  // Waits for the workers, fills in the delta references and stores the block map.
  void finish() {
    {
      std::unique_lock lock(pending_->mu);
      pending_->cv.wait(lock, [&] { return pending_->outstanding == 0; });
      if (pending_->error) std::rethrow_exception(pending_->error);
    }
    for (auto [ri, di] : delta_of_) {
      refs_[ri].delta_id = deltas_[di].id;
      refs_[ri].delta_raw_length = deltas_[di].raw_length;
      refs_[ri].delta_stored_length = deltas_[di].stored_length;
    }
    out_.chunks.assign(refs_.begin(), refs_.end());
    out_.size = total_;
    const bool blob_parent = parent_ && parent_->page_map_blob;
    store_page_map(repo_, blob_parent ? parent_ : nullptr, blob_parent ? &parent_base_ : nullptr,
                   out_, o_.stats);
  }

  repo::Repository& repo_;
  WorkerPool& pool_;
  const OpContext& ctx_;
  const int fd_;
  const std::string& path_;
  const uint32_t block_base_;
  const PageOptions& o_;
  repo::Entry& out_;
  const std::function<void(const std::string&)>& warn_;
  const uint32_t ps_;
  const repo::Entry* parent_ = nullptr;
  std::vector<uint64_t> parent_hashes_, parent_base_;
  std::vector<const ChunkRef*> parent_pieces_;
  std::shared_ptr<Pending> pending_ = std::make_shared<Pending>();
  std::deque<ChunkRef> refs_;    // stable addresses for the workers
  std::deque<ChunkRef> deltas_;  // delta chunk results, copied into refs after the wait
  std::vector<std::pair<size_t, size_t>> delta_of_;  // (ref index, delta index)
  uint64_t total_ = 0, failures_ = 0;
};
}  // namespace

void read_block_file(repo::Repository& repo, WorkerPool& pool, const OpContext& ctx, int fd,
                     const std::string& path, uint32_t segment_block_base,
                     const repo::Entry* parent, const PageOptions& options, repo::Entry& out,
                     const std::function<void(const std::string&)>& warn) {
  BlockFileReader(repo, pool, ctx, fd, path, segment_block_base, options, out, warn).run(parent);
}

uint64_t page_hash_seed(const repo::Repository& repo) {
  codec::Key32 seed = repo.derive_id_key("page hash seed");
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

// ops/block_file.h: backing up block-structured files (PostgreSQL relation segments) page by page.
//
// A file is read in pieces of 128 pages (1 MiB with 8 KiB pages), each stored as one
// content-addressed chunk, and every page gets a keyed 64-bit hash (the block map, kept in the
// tree entry). The next backup of a changed file compares page hashes with its parent's map:
//   - a piece whose pages are all unchanged reuses the parent's reference (nothing is stored);
//   - a piece with a few changed pages keeps the parent's base chunk and stores one delta chunk
//     with every page that differs from that base (the parent's delta pages plus the new ones),
//     so restores apply at most one delta per piece, however long the chain of incrementals;
//   - a piece with more than half of its pages changed is stored whole again (a new base).
// Memory: one piece per file in flight plus the block maps (8 bytes per page).
// The block map of a large file is stored as a blob; while fewer than 1/6 of its pages changed
// since, later backups record only the changed pages' hashes against that blob (a few bytes per
// changed page in the tree instead of 8 bytes per page).
// With checksums, every page's checksum is verified while reading; a failing page is re-read
// (a write may have torn it), and one whose LSN is at or after the backup's start is accepted
// (WAL replay rewrites it); others are reported with file and block.
#pragma once

#include <atomic>
#include <functional>
#include <string>

#include "ops/chunk_pipeline.h"
#include "repo/tree.h"

namespace sr::ops {

struct PageOptions {
  uint32_t page_size = 8192;
  bool verify_checksums = false;
  uint64_t start_lsn = 0;  // pages newer than this are being rewritten by WAL replay
  uint64_t hash_seed = 0;  // keyed page hashes (from the repository's id key)
  // Raw bytes of new pieces that may still be compressed at kDenseLevel, shared by the files of
  // one backup (null: all at the fast level). Incrementals get a budget: their new pieces are
  // mostly new tables and indexes, where zstd's lazy matching finds the repeated tuple headers
  // (a 200 000-row ledger table: 10 % smaller at level 6 than 1), at a bounded cost in time.
  std::atomic<int64_t>* dense_budget = nullptr;
  // Index pages (a special space in the page header) at zstd 3 instead of 1: pages changed by
  // updates (page splits, inserted keys) store 24 % smaller; a freshly built index gains ~1 %,
  // so full backups leave it off and keep their speed.
  bool dense_indexes = false;
  repo::WriteStats* stats = nullptr;  // what this backup added (Repository::store_chunk)
};
constexpr int kDenseLevel = 6;

// Reads `fd` (the file `path`) into `out` (chunks, page_size, page_hashes, size). `parent` is the
// same file's entry in the parent backup, if any. Checksum failures go to `warn` (the caller
// counts and logs them). Progress goes to ctx.progress; ctx.check_cancelled() runs per piece.
void read_block_file(repo::Repository& repo, WorkerPool& pool, const OpContext& ctx, int fd,
                     const std::string& path, uint32_t segment_block_base,
                     const repo::Entry* parent, const PageOptions& options, repo::Entry& out,
                     const std::function<void(const std::string&)>& warn);

// How a piece is stored, given whether the parent has a piece of the same length there, how many
// pages changed since the parent, and how many pages differ from the parent's base chunk
// (merge_delta_pages). Exposed for its unit tests.
enum class PieceKind { kUnchanged, kPrefixedDelta, kPlainDelta, kNewBase };
PieceKind choose_piece_kind(bool has_parent_piece, size_t changed_pages, size_t delta_pages,
                            size_t pages);
// The pages of a piece that differ from the parent's base chunk: the parent's delta pages and
// the newly changed ones, sorted, without duplicates.
std::vector<uint16_t> merge_delta_pages(const repo::ChunkRef& prev,
                                        const std::vector<uint16_t>& changed);

// The keyed seed of page hashes, derived from the repository's id key.
uint64_t page_hash_seed(const repo::Repository& repo);
// The page hash of one page (or the shorter last page of a file).
uint64_t page_hash(ByteSpan page, uint64_t seed);

// The block map of `e` (a file backed up with read_block_file) as one hash per page: the inline
// hashes, or the map blob with the changed pages applied. Throws Errc::kCorrupt when the blob
// does not match the entry. `base` (optional) receives the blob's hashes as stored.
std::vector<uint64_t> load_page_map(repo::Repository& repo, const repo::Entry& e,
                                    std::vector<uint64_t>* base = nullptr);

}  // namespace sr::ops

#include "ops/block_file.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <xxhash.h>

#include "base/fs.h"
#include "base/random.h"
#include "testing/temp_dir.h"
#include "testing/test_repository.h"

namespace sr::ops {
namespace {

constexpr uint32_t kPage = 8192;

class BlockFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    sr::testing::init_test_repository(dir_);
    repo_ = sr::testing::open_test_repository(dir_);
  }
  // Backs up `data` (as file "rel") against `parent`, flushes, and returns the entry.
  repo::Entry backup(const Bytes& data, const repo::Entry* parent) {
    write_file_atomic(dir_ / "rel", data);
    int fd = ::open((dir_ / "rel").c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    WorkerPool pool(2, 4);
    PageOptions o;
    o.page_size = kPage;
    o.hash_seed = 42;
    repo::Entry out;
    out.path = "rel";
    read_block_file(*repo_, pool, {}, fd, dir_ / "rel", 0, parent, o, out,
                    [](const std::string& w) { ADD_FAILURE() << w; });
    ::close(fd);
    repo_->flush();
    // What the tree stores is what the next backup sees.
    ByteWriter w;
    repo::encode_entry(out, w);
    return repo::decode_entry(w.buffer(), "test entry");
  }
  // The file as a restore rebuilds it: base pieces with their deltas applied.
  Bytes rebuild(const repo::Entry& e) {
    Bytes out;
    for (const auto& c : e.chunks) {
      Bytes piece = repo_->read_chunk(c.id);
      if (c.has_delta) {
        Bytes raw = repo_->read_chunk(c.delta_id);
        repo::apply_delta(repo::decode_delta(raw, c.raw_length, "delta"), piece, "delta");
      }
      out.insert(out.end(), piece.begin(), piece.end());
    }
    return out;
  }
  static std::vector<uint64_t> hashes(const Bytes& data) {
    std::vector<uint64_t> h;
    for (size_t off = 0; off < data.size(); off += kPage)
      h.push_back(
          XXH3_64bits_withSeed(data.data() + off, std::min<size_t>(kPage, data.size() - off), 42));
    return h;
  }
  static void change_page(Bytes& data, size_t page) {
    Bytes r = random_bytes(16);
    std::memcpy(data.data() + page * kPage + 100, r.data(), r.size());
  }
  sr::testing::TempDir dir_;
  std::unique_ptr<repo::Repository> repo_;
};

TEST_F(BlockFileTest, LargeMapIsABlobAndIncrementalsRecordOnlyChangedPages) {
  Bytes data = random_bytes(size_t{400} * kPage);
  repo::Entry full = backup(data, nullptr);
  ASSERT_TRUE(full.page_map_blob);
  EXPECT_EQ(full.page_count, 400u);
  EXPECT_TRUE(full.page_hashes.empty());
  EXPECT_TRUE(full.page_map_delta.empty());
  EXPECT_EQ(full.chunks.size(), 4u);  // 128 + 128 + 128 + 16 pages
  EXPECT_EQ(load_page_map(*repo_, full), hashes(data));
  EXPECT_EQ(rebuild(full), data);

  // Three pages change: same map blob, three (page, hash) entries, deltas in two pieces.
  for (size_t p : {5, 6, 300}) change_page(data, p);
  repo::Entry incr = backup(data, &full);
  ASSERT_TRUE(incr.page_map_blob);
  EXPECT_EQ(incr.page_map_base, full.page_map_base);
  ASSERT_EQ(incr.page_map_delta.size(), 3u);
  EXPECT_EQ(incr.page_map_delta[0].first, 5u);
  EXPECT_EQ(incr.page_map_delta[2].first, 300u);
  EXPECT_EQ(load_page_map(*repo_, incr), hashes(data));
  EXPECT_TRUE(incr.chunks[0].has_delta);
  EXPECT_FALSE(incr.chunks[1].has_delta);
  EXPECT_TRUE(incr.chunks[2].has_delta);
  EXPECT_EQ(rebuild(incr), data);

  // The next incremental's delta is cumulative against the same blob, including grown pages.
  change_page(data, 7);
  Bytes more = random_bytes(size_t{10} * kPage);
  data.insert(data.end(), more.begin(), more.end());
  repo::Entry incr2 = backup(data, &incr);
  ASSERT_TRUE(incr2.page_map_blob);
  EXPECT_EQ(incr2.page_map_base, full.page_map_base);
  EXPECT_EQ(incr2.page_count, 410u);
  EXPECT_EQ(incr2.page_map_delta.size(), 4u + 10u);
  EXPECT_EQ(load_page_map(*repo_, incr2), hashes(data));
  EXPECT_EQ(rebuild(incr2), data);

  // Many changed pages: a new map blob, no delta.
  for (size_t p = 0; p < 200; ++p) change_page(data, p * 2);
  repo::Entry rebased = backup(data, &incr2);
  ASSERT_TRUE(rebased.page_map_blob);
  EXPECT_NE(rebased.page_map_base, full.page_map_base);
  EXPECT_TRUE(rebased.page_map_delta.empty());
  EXPECT_EQ(load_page_map(*repo_, rebased), hashes(data));
  EXPECT_EQ(rebuild(rebased), data);

  // A file that shrinks below its map blob's length.
  data.resize(size_t{300} * kPage);
  repo::Entry shrunk = backup(data, &rebased);
  EXPECT_EQ(load_page_map(*repo_, shrunk), hashes(data));
  EXPECT_EQ(rebuild(shrunk), data);
}

TEST_F(BlockFileTest, FewChangedPagesAreStoredAsFramesAgainstTheBase) {
  Bytes data = random_bytes(size_t{256} * kPage);  // incompressible: a whole page costs 8 KiB
  repo::Entry full = backup(data, nullptr);
  // Piece 0: two pages with a few bytes changed (a tuple header, an index entry): form 2.
  data[3 * kPage + 100] ^= 0xff;
  data[9 * kPage + 4000] ^= 0x01;
  // Piece 1: twenty changed pages, more than kPrefixedDeltaPages: form 1, no base read.
  for (size_t p = 130; p < 150; ++p) data[p * kPage + 7] ^= 0x80;
  repo::Entry incr = backup(data, &full);
  ASSERT_TRUE(incr.chunks[0].has_delta);
  ASSERT_TRUE(incr.chunks[1].has_delta);
  repo::Delta small = repo::decode_delta(repo_->read_chunk(incr.chunks[0].delta_id),
                                         incr.chunks[0].raw_length, "delta");
  EXPECT_EQ(small.pages, (std::vector<uint16_t>{3, 9}));
  EXPECT_EQ(small.frames.size(), 2u);
  EXPECT_LT(incr.chunks[0].delta_stored_length, 400u);  // not 2 × 8 KiB
  repo::Delta big = repo::decode_delta(repo_->read_chunk(incr.chunks[1].delta_id),
                                       incr.chunks[1].raw_length, "delta");
  EXPECT_TRUE(big.frames.empty());
  EXPECT_EQ(big.pages.size(), 20u);
  EXPECT_EQ(rebuild(incr), data);

  // The next incremental stays cumulative against the same base: pages 3 and 9 again (as
  // they are now), plus page 10.
  data[10 * kPage] ^= 0x10;
  repo::Entry incr2 = backup(data, &incr);
  repo::Delta again = repo::decode_delta(repo_->read_chunk(incr2.chunks[0].delta_id),
                                         incr2.chunks[0].raw_length, "delta");
  EXPECT_EQ(again.pages, (std::vector<uint16_t>{3, 9, 10}));
  EXPECT_EQ(incr2.chunks[0].id, full.chunks[0].id);
  EXPECT_EQ(rebuild(incr2), data);
}

TEST_F(BlockFileTest, SmallMapStaysInline) {
  Bytes data = random_bytes(size_t{20} * kPage);
  repo::Entry e = backup(data, nullptr);
  EXPECT_FALSE(e.page_map_blob);
  EXPECT_EQ(e.page_hashes, hashes(data));
  change_page(data, 3);
  repo::Entry incr = backup(data, &e);
  EXPECT_EQ(incr.page_hashes, hashes(data));
  EXPECT_TRUE(incr.chunks[0].has_delta);
  EXPECT_EQ(rebuild(incr), data);
}

TEST_F(BlockFileTest, MapBlobThatDoesNotCoverTheFileIsCorrupt) {
  Bytes data = random_bytes(size_t{300} * kPage);
  repo::Entry e = backup(data, nullptr);
  e.page_count = 310;  // ten pages neither in the blob nor in the delta
  EXPECT_THROW(
      {
        try {
          load_page_map(*repo_, e);
        } catch (const Error& err) {
          EXPECT_EQ(err.code(), Errc::kCorrupt);
          throw;
        }
      },
      Error);
}

TEST(BlockMapEncoding, DecodeRejectsDeltaPagesOutOfOrderOrRange) {
  repo::Entry e;
  e.path = "f";
  e.page_size = kPage;
  e.page_map_blob = true;
  e.page_count = 10;
  e.page_map_delta = {{2, 7}, {9, 8}};
  ByteWriter w;
  repo::encode_entry(e, w);
  repo::Entry back = repo::decode_entry(w.buffer(), "t");
  EXPECT_EQ(back.page_map_delta, e.page_map_delta);
  EXPECT_EQ(back.page_count, 10u);

  e.page_map_delta = {{2, 7}, {10, 8}};  // beyond page_count
  ByteWriter w2;
  repo::encode_entry(e, w2);
  EXPECT_THROW(repo::decode_entry(w2.buffer(), "t"), Error);

  e.page_map_delta = {{2, 7}, {2, 8}};  // not ascending
  ByteWriter w3;
  repo::encode_entry(e, w3);
  EXPECT_THROW(repo::decode_entry(w3.buffer(), "t"), Error);
}

}  // namespace
}  // namespace sr::ops

namespace sr::ops {
namespace {

TEST(BlockFilePieces, PieceKindFollowsHowManyPagesDiffer) {
  // No parent piece of the same length: a new base.
  EXPECT_EQ(choose_piece_kind(false, 0, 0, 128), PieceKind::kNewBase);
  // Nothing changed since the parent: its reference is reused.
  EXPECT_EQ(choose_piece_kind(true, 0, 3, 128), PieceKind::kUnchanged);
  // Up to 16 pages differing from the base: frames against the base.
  EXPECT_EQ(choose_piece_kind(true, 1, 16, 128), PieceKind::kPrefixedDelta);
  // Also when they are most of a small piece (a visibility map).
  EXPECT_EQ(choose_piece_kind(true, 3, 3, 4), PieceKind::kPrefixedDelta);
  // More, but at most half of the piece: a plain delta.
  EXPECT_EQ(choose_piece_kind(true, 17, 17, 128), PieceKind::kPlainDelta);
  EXPECT_EQ(choose_piece_kind(true, 1, 64, 128), PieceKind::kPlainDelta);
  // More than half: a new base.
  EXPECT_EQ(choose_piece_kind(true, 1, 65, 128), PieceKind::kNewBase);
}

TEST(BlockFilePieces, DeltaPagesMergeTheParentsWithTheNewlyChanged) {
  repo::ChunkRef prev;
  EXPECT_EQ(merge_delta_pages(prev, {5, 1}), (std::vector<uint16_t>{1, 5}));
  prev.has_delta = true;
  prev.delta_pages = {2, 5, 9};
  EXPECT_EQ(merge_delta_pages(prev, {1, 5, 10}), (std::vector<uint16_t>{1, 2, 5, 9, 10}));
  EXPECT_EQ(merge_delta_pages(prev, {}), (std::vector<uint16_t>{2, 5, 9}));
}

TEST_F(BlockFileTest, CancelledReadThrowsAndWritesNoEntry) {
  write_file_atomic(dir_ / "rel", random_bytes(4 * 128 * kPage));
  int fd = ::open((dir_ / "rel").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  CancelToken token;
  token.cancel();
  OpContext ctx{&token, nullptr, nullptr};
  WorkerPool pool(2, 4);
  PageOptions o;
  o.page_size = kPage;
  repo::Entry out;
  try {
    read_block_file(*repo_, pool, ctx, fd, dir_ / "rel", 0, nullptr, o, out,
                    [](const std::string& w) { ADD_FAILURE() << w; });
    ADD_FAILURE() << "a cancelled read finished";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kCancelled);
  }
  ::close(fd);
  EXPECT_TRUE(out.chunks.empty());
}

}  // namespace
}  // namespace sr::ops

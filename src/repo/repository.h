// repo/repository.h: the repository: content-addressed, compressed, encrypted chunks in packs,
// index objects, manifests, locks. Everything above this layer stores and reads through it.
//
// Write order (the invariant that makes crashes harmless): packs are published first, then the
// index objects describing them, then the manifest that references their chunks. A crash at any
// point leaves at most packs or indexes nothing references; verify accepts them and a later
// prune removes them.
//
// Concurrency matrix (one Repository object):
//   store_chunk      any thread, concurrently with itself, lookup and read_*
//   flush, save_manifest   one thread, after all store_chunk calls of that backup returned
//   read_*, lookup, list_manifests   any thread
// Several processes may write one repository at once (each takes a shared lock); object names
// are random, so they never collide.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "codec/chunker.h"
#include "repo/index_cache.h"
#include "repo/keys.h"
#include "repo/manifest.h"
#include "repo/pack.h"
#include "repo/tree.h"
#include "storage/storage.h"

namespace sr::repo {

constexpr int kFormatVersion = 1;

struct RepoConfig {
  std::string id;
  int version = kFormatVersion;
  codec::ChunkerParams chunker;
  int compression_level = 3;
  uint64_t pack_size = 32ull << 20;
};

struct InitOptions {
  int compression_level = 3;
  codec::ScryptParams scrypt;
};

struct ChunkIdHash {
  size_t operator()(const codec::ChunkId& id) const {
    size_t h;
    std::memcpy(&h, id.data(), sizeof h);
    return h;
  }
};

class Repository {
 public:
  // Creates a new repository (fails with kAlreadyExists if one is there); returns its id.
  static std::string init(const std::string& url, std::string_view password,
                          const InitOptions& options);
  // Opens with a password; the cache directory comes from STRONGROOM_CACHE_DIR, XDG_CACHE_HOME
  // or ~/.cache (a temporary cache when none is writable).
  static std::unique_ptr<Repository> open(const std::string& url, std::string_view password);
  static std::unique_ptr<Repository> open(const std::string& url, const Credential& credential);
  ~Repository();

  storage::Storage& storage() { return *storage_; }
  const KeySet& keys() const { return keys_; }
  const RepoConfig& config() const { return config_; }
  const std::string& opened_slot() const { return slot_; }
  // A chunker for one stream (a copy of a prototype: the gear table is derived once).
  std::unique_ptr<codec::Chunker> make_chunker() const;

  // Brings the index cache up to date with the index objects. Damaged index objects are skipped
  // and reported by damaged_index_objects().
  void load_index();
  const std::vector<std::string>& damaged_index_objects() const { return damaged_index_; }
  IndexCache& index();

  // Stores a chunk unless an identical one exists. Thread-safe.
  struct Stored {
    ChunkRef ref;
    bool added = false;
  };
  // `level` overrides the repository's compression level for this chunk (unless the repository
  // stores uncompressed).
  Stored store_chunk(BlobType type, ByteSpan plaintext, std::optional<int> level = std::nullopt);
  // Publishes open packs and the index objects for everything stored so far.
  void flush();
  // Bytes newly written to packs by this process (sealed blob bytes).
  uint64_t added_bytes() const { return added_bytes_.load(); }
  // Writes manifests/<id>, assigning a new id when m.id is empty. Call after flush().
  std::string save_manifest(Manifest& m);

  std::vector<Manifest> list_manifests();  // oldest first; damaged ones are skipped
  std::vector<std::string> list_manifest_ids();
  Manifest load_manifest(const std::string& id);
  // Resolves "latest", a full id or a unique prefix; throws kNotFound / kUsage.
  std::string resolve_backup(const std::string& spec);

  std::optional<ChunkLocation> lookup(const codec::ChunkId& id);
  // Reads, authenticates and decompresses one chunk. With check_id, also recomputes its keyed
  // id (verify --read-data); AES-GCM with the id as associated data already binds them.
  Bytes read_blob(const codec::ChunkId& id, const ChunkLocation& loc, bool check_id = false);
  Bytes read_chunk(const codec::ChunkId& id);
  // read_blob into `dst` (at least loc.raw_length bytes): no buffer of the chunk's size is
  // allocated (restores write from one aligned buffer per thread). Returns loc.raw_length.
  size_t read_blob_into(const codec::ChunkId& id, const ChunkLocation& loc, std::span<uint8_t> dst);
  // The same for a blob already read from its pack (`sealed`: its loc.length bytes).
  size_t open_blob_into(const codec::ChunkId& id, const ChunkLocation& loc, ByteSpan sealed,
                        std::span<uint8_t> dst);
  // The id a chunk with this plaintext has (or would have) in this repository.
  codec::ChunkId chunk_id(ByteSpan plaintext) const;
  // Decrypts a blob already read from a pack.
  Bytes open_blob(const codec::ChunkId& id, const ChunkLocation& loc, ByteSpan sealed,
                  bool check_id);
  codec::Key32 pack_key(const std::string& pack, std::optional<ByteSpan> wrapped = std::nullopt);

 private:
  Repository() = default;
  void write_index(std::vector<PackInfo> packs);
  void finish_pack(std::unique_ptr<PackWriter> writer);

  std::unique_ptr<storage::Storage> storage_;
  KeySet keys_;
  RepoConfig config_;
  std::string slot_;
  std::once_flag cache_once_;
  std::unique_ptr<IndexCache> cache_;
  std::unique_ptr<codec::CdcChunker> chunker_;
  std::vector<std::string> damaged_index_;

  // Chunks stored by this process whose index object is not written yet (compact: the pack is
  // an index into pending_packs_). Bounded: an index object is written every kIndexEveryPacks
  // packs or kIndexEveryBlobs blobs, and a pack is closed at kMaxBlobsPerPack blobs.
  struct PendingChunk {
    uint32_t pack;
    BlobType type;
    uint8_t flags;
    uint32_t length, raw_length;
    uint64_t offset;
  };
  std::mutex pending_mu_;
  std::unordered_map<codec::ChunkId, PendingChunk, ChunkIdHash> pending_;
  std::vector<std::string> pending_packs_;
  std::vector<PackInfo> unindexed_;
  size_t unindexed_blobs_ = 0;
  uint32_t writer_pack_[2] = {0, 0};

  std::mutex writer_mu_[2];
  std::unique_ptr<PackWriter> writers_[2];
  std::atomic<uint64_t> added_bytes_{0};

  std::mutex key_mu_;
  std::map<std::string, codec::Key32> pack_keys_;
};

}  // namespace sr::repo

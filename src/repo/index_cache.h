// repo/index_cache.h: a local SQLite copy of the repository's index objects.
//
// Why: the index of a large repository must not sit in memory whole (restic's most common
// complaint). The cache is derived state only: it can be deleted at any time and is rebuilt from
// the index objects. It records which index objects it has ingested; sync() adds new ones and
// rebuilds from scratch when one it knew has disappeared (after a prune). Memory is bounded by
// SQLite's page cache. Lookups are by chunk ID (a B-tree), so memory does not grow with the
// repository. Thread-safe (one connection behind a mutex); several processes may share one
// cache file (WAL mode, busy timeout).
//
// Missing packs: a chunk may be listed in several packs (a backup stores a chunk again when the
// pack that held it is gone), and each pack has a `missing` flag, set from a listing of the
// packs (set_missing_packs). lookup prefers a location in a pack that is not missing and says
// when the only one it has is in a missing pack. The schema is versioned (PRAGMA user_version);
// a cache of another version is dropped and rebuilt.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "repo/pack.h"

struct sqlite3;

namespace sr::repo {

struct ChunkLocation {
  std::string pack;  // pack name (hex)
  BlobType type = BlobType::kData;
  uint8_t flags = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  uint32_t raw_length = 0;
};

class IndexCache {
 public:
  // Opens (creating) the cache file at `path`; an empty path keeps the cache in a temporary file.
  explicit IndexCache(const std::string& path);
  ~IndexCache();
  IndexCache(const IndexCache&) = delete;
  IndexCache& operator=(const IndexCache&) = delete;

  std::vector<std::string> ingested_index_files();
  void clear();
  void add_index_file(const std::string& name, const std::vector<PackInfo>& packs);

  // The chunk's location, in a pack not flagged missing when there is one; `pack_missing`, when
  // given, says whether the returned pack is flagged missing.
  std::optional<ChunkLocation> lookup(const codec::ChunkId& id, bool* pack_missing = nullptr);
  // Flags exactly the packs in `missing` as missing (clearing the flag of every other pack).
  void set_missing_packs(const std::set<std::string>& missing);
  std::optional<Bytes> pack_wrapped_key(const std::string& pack);
  // Visits every indexed pack with its expected size.
  void for_each_pack(const std::function<void(const std::string& name, uint64_t size)>& visit);
  // Visits every chunk of a pack.
  void for_each_chunk_in_pack(
      const std::string& pack,
      const std::function<void(const codec::ChunkId&, const ChunkLocation&)>& visit);
  uint64_t chunk_count();

 private:
  void exec(const char* sql);
  void configure(bool on_disk);  // pragmas, schema and statements (the constructor's body)
  void create_schema();
  std::mutex mu_;
  sqlite3* db_ = nullptr;
  struct Statements;
  std::unique_ptr<Statements> st_;
};

}  // namespace sr::repo

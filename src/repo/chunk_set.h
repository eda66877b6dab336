// repo/chunk_set.h: a set of chunk ids that may grow past memory: a private temporary SQLite
// database (SQLite spills it to a temporary file beyond its small page cache). Used to count each
// distinct chunk of a backup once. Not thread-safe.
#pragma once

#include "codec/crypto.h"

struct sqlite3;
struct sqlite3_stmt;

namespace sr::repo {

class ChunkSet {
 public:
  ChunkSet();
  ~ChunkSet();
  ChunkSet(const ChunkSet&) = delete;
  ChunkSet& operator=(const ChunkSet&) = delete;
  // Returns true when id was not in the set yet.
  bool insert(const codec::ChunkId& id);
  bool contains(const codec::ChunkId& id);

 private:
  sqlite3* db_ = nullptr;
  sqlite3_stmt* insert_ = nullptr;
  sqlite3_stmt* find_ = nullptr;
};

}  // namespace sr::repo

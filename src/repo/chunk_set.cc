#include "repo/chunk_set.h"

#include <sqlite3.h>

#include "base/error.h"

namespace sr::repo {

ChunkSet::ChunkSet() {
  if (sqlite3_open_v2("", &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr) != SQLITE_OK ||
      sqlite3_exec(db_,
                   "PRAGMA cache_size=-4096; PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
                   "CREATE TABLE s(id BLOB PRIMARY KEY) WITHOUT ROWID;"
                   // One transaction for the set's life: an autocommit per insert made every
                   // insert walk the page cache at its commit (most of a prune's mark time).
                   "BEGIN;",
                   nullptr, nullptr, nullptr) != SQLITE_OK ||
      sqlite3_prepare_v2(db_, "INSERT OR IGNORE INTO s(id) VALUES (?)", -1, &insert_, nullptr) !=
          SQLITE_OK ||
      sqlite3_prepare_v2(db_, "SELECT 1 FROM s WHERE id = ?", -1, &find_, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_finalize(insert_);
    sqlite3_finalize(find_);
    sqlite3_close(db_);
    throw Error(Errc::kIo, "cannot create a temporary chunk set: " + msg);
  }
}

ChunkSet::~ChunkSet() {
  sqlite3_finalize(insert_);
  sqlite3_finalize(find_);
  sqlite3_close(db_);
}

bool ChunkSet::insert(const codec::ChunkId& id) {
  sqlite3_reset(insert_);
  sqlite3_bind_blob(insert_, 1, id.data(), 32, SQLITE_STATIC);
  if (sqlite3_step(insert_) != SQLITE_DONE)
    throw Error(Errc::kIo, std::string("temporary chunk set: ") + sqlite3_errmsg(db_));
  return sqlite3_changes(db_) == 1;
}

bool ChunkSet::contains(const codec::ChunkId& id) {
  sqlite3_reset(find_);
  sqlite3_bind_blob(find_, 1, id.data(), 32, SQLITE_STATIC);
  return sqlite3_step(find_) == SQLITE_ROW;
}

}  // namespace sr::repo

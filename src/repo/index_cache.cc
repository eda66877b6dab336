#include "repo/index_cache.h"

#include <sqlite3.h>

#include <chrono>
#include <cstring>
#include <string>

#include "base/sqlite.h"

namespace sr::repo {

namespace {
constexpr int kSchemaVersion = 2;

constexpr const char* kWho = "index cache";
constexpr const char* kHint = " (the cache can be deleted safely; it is rebuilt)";

[[noreturn]] void db_fail(sqlite3* db, const std::string& what) {
  sqlite::fail(db, kWho, what, kHint);
}

class Stmt : public sqlite::Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : sqlite::Stmt(db, sql, kWho, kHint) {}
};

using sqlite::col_text;
}  // namespace

struct IndexCache::Statements {
  explicit Statements(sqlite3* db)
      : lookup(db,
               "SELECT p.name, c.type, c.flags, c.off, c.len, c.raw, p.missing FROM chunks c "
               "JOIN packs p ON p.rowid = c.pack WHERE c.id = ? ORDER BY p.missing LIMIT 1"),
        insert_pack(db,
                    "INSERT OR IGNORE INTO packs(name, wrapped_key, size, missing) "
                    "VALUES (?, ?, ?, 0)"),
        pack_rowid(db, "SELECT rowid FROM packs WHERE name = ?"),
        insert_chunk(db,
                     "INSERT OR IGNORE INTO chunks(id, pack, type, flags, off, len, raw) "
                     "VALUES (?, ?, ?, ?, ?, ?, ?)"),
        insert_file(db, "INSERT OR IGNORE INTO index_files(name) VALUES (?)"),
        pack_key(db, "SELECT wrapped_key FROM packs WHERE name = ?") {}
  Stmt lookup, insert_pack, pack_rowid, insert_chunk, insert_file, pack_key;
};

IndexCache::IndexCache(const std::string& path) {
  std::string p = path.empty() ? "" : path;  // "" = private temporary database
  if (sqlite3_open_v2(p.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(Errc::kIo, "cannot open index cache " + path + ": " + msg);
  }
  try {
    configure(!path.empty());
  } catch (...) {  // the destructor does not run for a constructor that throws
    st_.reset();
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

void IndexCache::configure(bool on_disk) {
  sqlite3_busy_timeout(db_, 60000);
  // Switching a new database to WAL needs an exclusive lock, and SQLite returns SQLITE_BUSY
  // there without calling the busy handler when another process is creating the same cache
  // (concurrent backups of a new repository): retried here for as long as the busy timeout.
  if (on_disk) {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (;;) {
      int rc = sqlite3_exec(db_, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
      if (rc == SQLITE_OK) break;
      if ((rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() >= give_up)
        exec("PRAGMA journal_mode=WAL");  // throws, naming the error
      sqlite3_sleep(10);
    }
  }
  exec("PRAGMA synchronous=OFF");    // derived data: rebuilt if lost
  exec("PRAGMA cache_size=-16384");  // 16 MiB page cache: bounds memory
  create_schema();
  st_ = std::make_unique<Statements>(db_);
}

void IndexCache::create_schema() {
  // Schema 2: a chunk may be listed in several packs (stored again after its pack went missing),
  // and packs carry a `missing` flag. An older cache is derived data: dropped and rebuilt.
  exec("BEGIN IMMEDIATE");
  try {
    int version = 0;
    {
      Stmt v(db_, "PRAGMA user_version");
      if (v.step()) version = sqlite3_column_int(v.get(), 0);
    }
    if (version != kSchemaVersion) {
      exec(
          "DROP TABLE IF EXISTS chunks; DROP TABLE IF EXISTS packs; "
          "DROP TABLE IF EXISTS index_files;");
      exec(("PRAGMA user_version=" + std::to_string(kSchemaVersion)).c_str());
    }
    exec(
        "CREATE TABLE IF NOT EXISTS packs(rowid INTEGER PRIMARY KEY, name TEXT UNIQUE NOT NULL, "
        "wrapped_key BLOB NOT NULL, size INTEGER NOT NULL, missing INTEGER NOT NULL DEFAULT 0);"
        "CREATE TABLE IF NOT EXISTS chunks(id BLOB NOT NULL, pack INTEGER NOT NULL, type INTEGER, "
        "flags INTEGER, off INTEGER, len INTEGER, raw INTEGER, PRIMARY KEY(id, pack)) WITHOUT "
        "ROWID;"
        "CREATE INDEX IF NOT EXISTS chunks_by_pack ON chunks(pack);"
        "CREATE TABLE IF NOT EXISTS index_files(name TEXT PRIMARY KEY) WITHOUT ROWID;");
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

IndexCache::~IndexCache() {
  st_.reset();
  sqlite3_close(db_);
}

void IndexCache::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    std::string stmt(sql, strnlen(sql, 40));
    throw Error(Errc::kIo, "index cache: " + msg + " (in \"" + stmt + "\")");
  }
}

std::vector<std::string> IndexCache::ingested_index_files() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  Stmt s(db_, "SELECT name FROM index_files");
  while (s.step()) out.push_back(col_text(s.get(), 0));
  return out;
}

void IndexCache::clear() {
  std::lock_guard lock(mu_);
  exec("DELETE FROM chunks; DELETE FROM packs; DELETE FROM index_files;");
}

void IndexCache::add_index_file(const std::string& name, const std::vector<PackInfo>& packs) {
  std::lock_guard lock(mu_);
  exec("BEGIN IMMEDIATE");
  try {
    for (const auto& p : packs) {
      auto& ip = st_->insert_pack;
      ip.reset();
      ip.bind_text(1, p.name);
      ip.bind_blob(2, p.wrapped_key.data(), p.wrapped_key.size());
      ip.bind_int(3, static_cast<int64_t>(p.size));
      ip.step();
      auto& pr = st_->pack_rowid;
      pr.reset();
      pr.bind_text(1, p.name);
      if (!pr.step()) db_fail(db_, "pack row");
      int64_t rowid = sqlite3_column_int64(pr.get(), 0);
      pr.reset();  // a statement left on its row keeps a read snapshot open past COMMIT
      auto& ic = st_->insert_chunk;
      for (const auto& b : p.blobs) {
        ic.reset();
        ic.bind_blob(1, b.id.data(), b.id.size());
        ic.bind_int(2, rowid);
        ic.bind_int(3, static_cast<int>(b.type));
        ic.bind_int(4, b.flags);
        ic.bind_int(5, static_cast<int64_t>(b.offset));
        ic.bind_int(6, b.length);
        ic.bind_int(7, b.raw_length);
        ic.step();
      }
    }
    auto& f = st_->insert_file;
    f.reset();
    f.bind_text(1, name);
    f.step();
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

std::optional<ChunkLocation> IndexCache::lookup(const codec::ChunkId& id, bool* pack_missing) {
  std::lock_guard lock(mu_);
  auto& s = st_->lookup;
  s.reset();
  s.bind_blob(1, id.data(), id.size());
  if (!s.step()) return std::nullopt;
  ChunkLocation loc;
  loc.pack = col_text(s.get(), 0);
  loc.type = static_cast<BlobType>(sqlite3_column_int(s.get(), 1));
  loc.flags = static_cast<uint8_t>(sqlite3_column_int(s.get(), 2));
  loc.offset = static_cast<uint64_t>(sqlite3_column_int64(s.get(), 3));
  loc.length = static_cast<uint32_t>(sqlite3_column_int64(s.get(), 4));
  loc.raw_length = static_cast<uint32_t>(sqlite3_column_int64(s.get(), 5));
  if (pack_missing) *pack_missing = sqlite3_column_int(s.get(), 6) != 0;
  s.reset();
  return loc;
}

std::optional<Bytes> IndexCache::pack_wrapped_key(const std::string& pack) {
  std::lock_guard lock(mu_);
  auto& s = st_->pack_key;
  s.reset();
  s.bind_text(1, pack);
  if (!s.step()) return std::nullopt;
  auto p = static_cast<const uint8_t*>(sqlite3_column_blob(s.get(), 0));
  Bytes out(p, p + sqlite3_column_bytes(s.get(), 0));
  s.reset();
  return out;
}

void IndexCache::for_each_pack(const std::function<void(const std::string&, uint64_t)>& visit) {
  std::vector<std::pair<std::string, uint64_t>> batch;
  int64_t last = 0;
  for (;;) {  // paged, so that the visitor may call back into the cache
    batch.clear();
    {
      std::lock_guard lock(mu_);
      Stmt s(db_, "SELECT rowid, name, size FROM packs WHERE rowid > ? ORDER BY rowid LIMIT 1000");
      s.bind_int(1, last);
      while (s.step()) {
        last = sqlite3_column_int64(s.get(), 0);
        batch.emplace_back(col_text(s.get(), 1),
                           static_cast<uint64_t>(sqlite3_column_int64(s.get(), 2)));
      }
    }
    if (batch.empty()) return;
    for (const auto& [name, size] : batch) visit(name, size);
  }
}

void IndexCache::for_each_chunk_in_pack(
    const std::string& pack,
    const std::function<void(const codec::ChunkId&, const ChunkLocation&)>& visit) {
  std::vector<std::pair<codec::ChunkId, ChunkLocation>> rows;
  {
    std::lock_guard lock(mu_);
    Stmt s(db_,
           "SELECT c.id, c.type, c.flags, c.off, c.len, c.raw FROM chunks c JOIN packs p ON "
           "p.rowid = c.pack WHERE p.name = ? ORDER BY c.off");
    s.bind_text(1, pack);
    while (s.step()) {
      codec::ChunkId id{};
      if (sqlite3_column_bytes(s.get(), 0) == 32)
        std::memcpy(id.data(), sqlite3_column_blob(s.get(), 0), 32);
      ChunkLocation loc{pack,
                        static_cast<BlobType>(sqlite3_column_int(s.get(), 1)),
                        static_cast<uint8_t>(sqlite3_column_int(s.get(), 2)),
                        static_cast<uint64_t>(sqlite3_column_int64(s.get(), 3)),
                        static_cast<uint32_t>(sqlite3_column_int64(s.get(), 4)),
                        static_cast<uint32_t>(sqlite3_column_int64(s.get(), 5))};
      rows.emplace_back(id, loc);
    }
  }
  for (const auto& [id, loc] : rows) visit(id, loc);
}

void IndexCache::set_missing_packs(const std::set<std::string>& missing) {
  std::lock_guard lock(mu_);
  exec("BEGIN IMMEDIATE");
  try {
    exec("UPDATE packs SET missing = 0 WHERE missing != 0");
    Stmt s(db_, "UPDATE packs SET missing = 1 WHERE name = ?");
    for (const auto& name : missing) {
      s.reset();
      s.bind_text(1, name);
      s.step();
    }
    exec("COMMIT");
  } catch (...) {
    sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    throw;
  }
}

uint64_t IndexCache::chunk_count() {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT count(*) FROM chunks");
  s.step();
  return static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0));
}

}  // namespace sr::repo

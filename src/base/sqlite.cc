#include "base/sqlite.h"

#include "base/error.h"

namespace sr::sqlite {

void fail(sqlite3* db, const char* who, const std::string& what, const char* hint) {
  throw Error(Errc::kIo,
              std::string(who) + ": " + what + ": " + (db ? sqlite3_errmsg(db) : "?") + hint);
}

Stmt::Stmt(sqlite3* db, const char* sql, const char* who, const char* hint)
    : db_(db), who_(who), hint_(hint) {
  if (sqlite3_prepare_v2(db, sql, -1, &s_, nullptr) != SQLITE_OK) fail(db, who, "prepare", hint);
}

Stmt::~Stmt() { sqlite3_finalize(s_); }

void Stmt::reset() {
  sqlite3_reset(s_);
  sqlite3_clear_bindings(s_);
}

void Stmt::bind_blob(int i, const void* p, size_t n) {
  sqlite3_bind_blob(s_, i, p, static_cast<int>(n), SQLITE_TRANSIENT);
}

void Stmt::bind_text(int i, const std::string& t) {
  sqlite3_bind_text(s_, i, t.data(), static_cast<int>(t.size()), SQLITE_TRANSIENT);
}

void Stmt::bind_int(int i, int64_t v) { sqlite3_bind_int64(s_, i, v); }
void Stmt::bind_double(int i, double v) { sqlite3_bind_double(s_, i, v); }
void Stmt::bind_null(int i) { sqlite3_bind_null(s_, i); }

bool Stmt::step() {
  int rc = sqlite3_step(s_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(db_, who_, "query", hint_);
}

std::string Stmt::text(int i) const { return col_text(s_, i); }

std::string col_text(sqlite3_stmt* s, int i) {
  auto p = sqlite3_column_text(s, i);
  return p ? std::string(reinterpret_cast<const char*>(p),
                         static_cast<size_t>(sqlite3_column_bytes(s, i)))
           : std::string();
}

}  // namespace sr::sqlite

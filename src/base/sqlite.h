// base/sqlite.h: a prepared SQLite statement that throws Error{kIo} naming its database, shared
// by the index cache (repo/) and the daemon's state database (daemon/).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>

namespace sr::sqlite {

// Error{kIo}: "<who>: <what>: <SQLite's message><hint>".
[[noreturn]] void fail(sqlite3* db, const char* who, const std::string& what,
                       const char* hint = "");

class Stmt {
 public:
  Stmt(sqlite3* db, const char* sql, const char* who, const char* hint = "");
  ~Stmt();
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  sqlite3_stmt* get() { return s_; }
  void reset();  // also clears the bindings
  void bind_blob(int i, const void* p, size_t n);
  void bind_text(int i, const std::string& t);
  void bind_int(int i, int64_t v);
  void bind_double(int i, double v);
  void bind_null(int i);
  bool step();  // true: a row; false: done
  std::string text(int i) const;
  int64_t integer(int i) const { return sqlite3_column_int64(s_, i); }
  double real(int i) const { return sqlite3_column_double(s_, i); }
  bool is_null(int i) const { return sqlite3_column_type(s_, i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* s_ = nullptr;
  const char* who_;
  const char* hint_;
};

std::string col_text(sqlite3_stmt* s, int i);

}  // namespace sr::sqlite

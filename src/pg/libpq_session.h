// pg/libpq_session.h: a connection to PostgreSQL over libpq (raw libpq: the replication
// protocol is not available through libpqxx 6).
//
// Errors are sr::Error with the server's message; the connection string is never put in a
// message (it may hold a password). Not thread-safe: one session per thread.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

struct pg_conn;

namespace sr::pg {

using Row = std::vector<std::optional<std::string>>;

class Session {
 public:
  // replication: "" for a normal session, "true" for a physical replication connection.
  // dbname, when given, overrides the database of the connection string.
  static std::unique_ptr<Session> connect(const std::string& conninfo,
                                          const std::string& replication = "",
                                          const std::string& dbname = "");
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs one statement; returns its rows (text format). Parameters are passed separately
  // ($1, $2, …), never interpolated.
  std::vector<Row> query(const std::string& sql, const std::vector<std::string>& params = {});
  // The single value of a one-row, one-column result.
  std::string value(const std::string& sql, const std::vector<std::string>& params = {});
  int server_version() const;  // e.g. 150004
  // The server's WAL segment size (checked: a power of two from 1 MiB to 1 GiB; kIo otherwise).
  uint64_t wal_segment_size();
  std::string describe() const;  // "host:port" for messages
  pg_conn* raw() { return conn_; }

 private:
  explicit Session(pg_conn* c) : conn_(c) {}
  pg_conn* conn_;
};

}  // namespace sr::pg

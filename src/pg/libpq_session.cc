#include "pg/libpq_session.h"

#include <libpq-fe.h>

#include "base/error.h"
#include "base/lsn.h"
#include "base/number.h"

namespace sr::pg {

namespace {
std::string trimmed(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}
}  // namespace

std::unique_ptr<Session> Session::connect(const std::string& conninfo,
                                          const std::string& replication,
                                          const std::string& dbname) {
  std::vector<const char*> keys = {"dbname", "fallback_application_name"};
  std::vector<const char*> vals = {conninfo.c_str(), "strongroom"};
  if (!replication.empty()) {
    keys.push_back("replication");
    vals.push_back(replication.c_str());
  }
  if (!dbname.empty()) {  // later keywords override what the expanded string set
    keys.push_back("dbname");
    vals.push_back(dbname.c_str());
  }
  keys.push_back(nullptr);
  vals.push_back(nullptr);
  // expand_dbname=1: the first "dbname" value is parsed as a connection string.
  PGconn* c = PQconnectdbParams(keys.data(), vals.data(), 1);
  if (!c) throw Error(Errc::kIo, "postgres: out of memory while connecting");
  if (PQstatus(c) != CONNECTION_OK) {
    std::string msg = trimmed(PQerrorMessage(c));
    PQfinish(c);
    throw Error(Errc::kIo, "postgres: cannot connect: " + msg +
                               " (check --pg-conn and that the server is running)");
  }
  return std::unique_ptr<Session>(new Session(c));
}

Session::~Session() { PQfinish(conn_); }

std::vector<Row> Session::query(const std::string& sql, const std::vector<std::string>& params) {
  std::vector<const char*> p;
  for (const auto& s : params) p.push_back(s.c_str());
  PGresult* r = params.empty() ? PQexec(conn_, sql.c_str())
                               : PQexecParams(conn_, sql.c_str(), static_cast<int>(p.size()),
                                              nullptr, p.data(), nullptr, nullptr, 0);
  std::unique_ptr<PGresult, void (*)(PGresult*)> guard(r, PQclear);
  ExecStatusType st = PQresultStatus(r);
  if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
    throw Error(Errc::kIo, "postgres (" + describe() + "): " + trimmed(PQresultErrorMessage(r)));
  std::vector<Row> rows;
  int n = PQntuples(r), f = PQnfields(r);
  for (int i = 0; i < n; ++i) {
    Row row;
    for (int j = 0; j < f; ++j)
      row.push_back(PQgetisnull(r, i, j) ? std::nullopt
                                         : std::optional<std::string>(PQgetvalue(r, i, j)));
    rows.push_back(std::move(row));
  }
  return rows;
}

std::string Session::value(const std::string& sql, const std::vector<std::string>& params) {
  auto rows = query(sql, params);
  if (rows.size() != 1 || rows[0].size() != 1 || !rows[0][0])
    throw Error(Errc::kIo, "postgres: unexpected result for: " + sql.substr(0, 60));
  return *rows[0][0];
}

int Session::server_version() const { return PQserverVersion(conn_); }

uint64_t Session::wal_segment_size() {
  auto n = parse_decimal<uint64_t>(
      value("SELECT pg_size_bytes(current_setting('wal_segment_size'))::text"), "wal_segment_size");
  if (!is_wal_segment_size(n))
    throw Error(Errc::kIo, "the server at " + describe() +
                               " reports an impossible WAL segment size " + std::to_string(n));
  return n;
}

std::string Session::describe() const {
  std::string host = PQhost(conn_) ? PQhost(conn_) : "?";
  std::string port = PQport(conn_) ? PQport(conn_) : "?";
  return host + ":" + port;
}

}  // namespace sr::pg

#include "pg/replication.h"

#include <libpq-fe.h>
#include <poll.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>

#include "base/error.h"

namespace sr::pg {

namespace {

using ResultPtr = std::unique_ptr<PGresult, void (*)(PGresult*)>;

ResultPtr wrap(PGresult* r) { return ResultPtr(r, PQclear); }

std::string trimmed(const char* msg) {
  std::string s = msg ? msg : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// --- big-endian helpers (the replication protocol uses network byte order) ---

void put_be64(Bytes& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

class BeReader {
 public:
  BeReader(ByteSpan data, const char* what) : data_(data), what_(what) {}
  uint8_t u8() { return take(1)[0]; }
  uint64_t u64() {
    auto p = take(8);
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = v << 8 | p[i];
    return v;
  }
  ByteSpan rest() {
    auto r = data_.subspan(pos_);
    pos_ = data_.size();
    return r;
  }
  void expect_done() const {
    if (pos_ != data_.size())
      throw Error(Errc::kCorrupt, std::string("postgres replication: ") + what_ + " has " +
                                      std::to_string(data_.size() - pos_) + " trailing bytes");
  }

 private:
  ByteSpan take(size_t n) {
    if (data_.size() - pos_ < n)
      throw Error(Errc::kCorrupt, std::string("postgres replication: truncated ") + what_ + " (" +
                                      std::to_string(data_.size()) + " bytes)");
    auto r = data_.subspan(pos_, n);
    pos_ += n;
    return r;
  }
  ByteSpan data_;
  size_t pos_ = 0;
  const char* what_;
};

std::string field(PGresult* r, int row, int col) {
  if (PQgetisnull(r, row, col)) return {};
  return std::string(PQgetvalue(r, row, col), static_cast<size_t>(PQgetlength(r, row, col)));
}

uint32_t parse_u32(const std::string& s, const char* what) {
  uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size() || s.empty())
    throw Error(Errc::kIo,
                std::string("postgres replication: unexpected ") + what + " '" + s + "'");
  return v;
}

Lsn parse_server_lsn(const std::string& s, const char* what) {
  try {
    return Lsn::parse(s);
  } catch (const Error&) {
    throw Error(Errc::kIo,
                std::string("postgres replication: unexpected ") + what + " '" + s + "'");
  }
}

// The server's message for a failed result, or libpq's own (e.g. a lost connection, where the
// result carries no message).
std::string error_of(PGresult* r, PGconn* c) {
  std::string m = trimmed(r ? PQresultErrorMessage(r) : nullptr);
  return m.empty() ? trimmed(PQerrorMessage(c)) : m;
}

}  // namespace

int64_t to_postgres_time(std::chrono::system_clock::time_point t) {
  auto us = std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
  return static_cast<int64_t>(us) - kPostgresEpochOffsetMicros;
}

std::chrono::system_clock::time_point from_postgres_time(int64_t micros) {
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::microseconds(micros + kPostgresEpochOffsetMicros)));
}

SystemInfo system_info_from_fields(const std::string& systemid, const std::string& timeline,
                                   const std::string& xlogpos, std::optional<std::string> dbname) {
  if (systemid.empty() || systemid.size() > 20 ||
      systemid.find_first_not_of("0123456789") != std::string::npos)
    throw Error(Errc::kIo, "postgres replication: unexpected system identifier '" +
                               systemid.substr(0, 40) + "'");
  SystemInfo info;
  info.system_identifier = systemid;
  info.timeline = parse_u32(timeline, "timeline");
  if (info.timeline == 0) throw Error(Errc::kIo, "postgres replication: unexpected timeline 0");
  info.xlogpos = parse_server_lsn(xlogpos, "xlogpos");
  info.dbname = std::move(dbname);
  return info;
}

Message decode_copy_data(ByteSpan data) {
  if (data.empty()) throw Error(Errc::kCorrupt, "postgres replication: empty CopyData message");
  Message m;
  switch (data[0]) {
    case 'w': {
      BeReader r(data.subspan(1), "XLogData message");
      m.kind = Message::Kind::kXLogData;
      m.data_start = Lsn{r.u64()};
      m.wal_end = Lsn{r.u64()};
      m.send_time = static_cast<int64_t>(r.u64());
      auto payload = r.rest();
      if (m.data_start.value + payload.size() < m.data_start.value)
        throw Error(Errc::kCorrupt, "postgres replication: XLogData runs past the end of WAL");
      m.data.assign(payload.begin(), payload.end());
      return m;
    }
    case 'k': {
      BeReader r(data.subspan(1), "keepalive message");
      m.kind = Message::Kind::kKeepalive;
      m.wal_end = Lsn{r.u64()};
      m.send_time = static_cast<int64_t>(r.u64());
      uint8_t reply = r.u8();
      if (reply > 1)
        throw Error(Errc::kCorrupt, "postgres replication: keepalive reply flag " +
                                        std::to_string(reply) + " (expected 0 or 1)");
      m.reply_requested = reply == 1;
      r.expect_done();
      return m;
    }
    default: {
      char buf[8];
      std::snprintf(buf, sizeof buf, "0x%02X", data[0]);
      throw Error(Errc::kCorrupt, std::string("postgres replication: unknown message type ") + buf);
    }
  }
}

Bytes encode_xlog_data(Lsn data_start, Lsn wal_end, int64_t send_time, ByteSpan payload) {
  Bytes out;
  out.reserve(25 + payload.size());
  out.push_back('w');
  put_be64(out, data_start.value);
  put_be64(out, wal_end.value);
  put_be64(out, static_cast<uint64_t>(send_time));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes encode_keepalive(Lsn wal_end, int64_t send_time, bool reply_requested) {
  Bytes out;
  out.push_back('k');
  put_be64(out, wal_end.value);
  put_be64(out, static_cast<uint64_t>(send_time));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

Bytes encode_status_update(Lsn written, Lsn flushed, Lsn applied, int64_t client_time,
                           bool reply_requested) {
  Bytes out;
  out.reserve(34);
  out.push_back('r');
  put_be64(out, written.value);
  put_be64(out, flushed.value);
  put_be64(out, applied.value);
  put_be64(out, static_cast<uint64_t>(client_time));
  out.push_back(reply_requested ? 1 : 0);
  return out;
}

bool is_valid_slot_name(const std::string& name) {
  if (name.empty() || name.size() > 63) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) return false;
  return true;
}

// --- ReplicationClient ---

std::unique_ptr<ReplicationClient> ReplicationClient::connect(const std::string& conninfo) {
  return std::unique_ptr<ReplicationClient>(
      new ReplicationClient(Session::connect(conninfo, "true")));
}

ReplicationClient::~ReplicationClient() = default;

void ReplicationClient::fail(const std::string& what, const std::string& server_message) const {
  throw Error(Errc::kIo, "postgres replication (" + describe() + "): " + what + ": " +
                             (server_message.empty() ? "connection lost" : server_message));
}

SystemInfo ReplicationClient::identify_system() {
  if (streaming_)
    throw Error(Errc::kUsage, "postgres replication: IDENTIFY_SYSTEM while streaming");
  auto r = wrap(PQexec(session_->raw(), "IDENTIFY_SYSTEM"));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK)
    fail("IDENTIFY_SYSTEM", error_of(r.get(), session_->raw()));
  if (PQntuples(r.get()) != 1 || PQnfields(r.get()) < 4)
    fail("IDENTIFY_SYSTEM", "unexpected result shape (" + std::to_string(PQntuples(r.get())) +
                                " rows, " + std::to_string(PQnfields(r.get())) + " columns)");
  std::optional<std::string> dbname;
  if (!PQgetisnull(r.get(), 0, 3)) dbname = field(r.get(), 0, 3);
  return system_info_from_fields(field(r.get(), 0, 0), field(r.get(), 0, 1), field(r.get(), 0, 2),
                                 std::move(dbname));
}

void ReplicationClient::create_physical_slot_if_missing(const std::string& slot) {
  if (!is_valid_slot_name(slot))
    throw Error(Errc::kUsage, "invalid replication slot name '" + slot +
                                  "' (use 1 to 63 characters of a-z, 0-9 and _)");
  if (streaming_)
    throw Error(Errc::kUsage, "postgres replication: CREATE_REPLICATION_SLOT while streaming");
  std::string cmd = "CREATE_REPLICATION_SLOT " + slot + " PHYSICAL RESERVE_WAL";
  auto r = wrap(PQexec(session_->raw(), cmd.c_str()));
  if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) return;
  const char* state = PQresultErrorField(r.get(), PG_DIAG_SQLSTATE);
  if (state && std::strcmp(state, "42710") == 0) return;  // duplicate_object: already exists
  fail("CREATE_REPLICATION_SLOT " + slot, error_of(r.get(), session_->raw()));
}

std::string ReplicationClient::timeline_history(TimelineId tli) {
  if (tli < 2)
    throw Error(Errc::kUsage, "timeline " + std::to_string(tli) + " has no history file");
  if (streaming_)
    throw Error(Errc::kUsage, "postgres replication: TIMELINE_HISTORY while streaming");
  std::string cmd = "TIMELINE_HISTORY " + std::to_string(tli);
  auto r = wrap(PQexec(session_->raw(), cmd.c_str()));
  if (PQresultStatus(r.get()) != PGRES_TUPLES_OK) fail(cmd, error_of(r.get(), session_->raw()));
  if (PQntuples(r.get()) != 1 || PQnfields(r.get()) != 2) fail(cmd, "unexpected result shape");
  return field(r.get(), 0, 1);
}

void ReplicationClient::start(const std::string& slot, Lsn start, TimelineId tli) {
  if (streaming_) throw Error(Errc::kUsage, "postgres replication: already streaming");
  if (!slot.empty() && !is_valid_slot_name(slot))
    throw Error(Errc::kUsage, "invalid replication slot name '" + slot +
                                  "' (use 1 to 63 characters of a-z, 0-9 and _)");
  if (tli == 0) throw Error(Errc::kUsage, "postgres replication: timeline 0 does not exist");
  std::string cmd = "START_REPLICATION ";
  if (!slot.empty()) cmd += "SLOT " + slot + " ";
  cmd += "PHYSICAL " + start.str() + " TIMELINE " + std::to_string(tli);
  auto r = wrap(PQexec(session_->raw(), cmd.c_str()));
  if (PQresultStatus(r.get()) != PGRES_COPY_BOTH) fail(cmd, error_of(r.get(), session_->raw()));
  streaming_ = true;
}

std::optional<Message> ReplicationClient::next(int timeout_ms) {
  if (!streaming_) throw Error(Errc::kUsage, "postgres replication: next() without start()");
  PGconn* c = session_->raw();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  for (;;) {
    char* buf = nullptr;
    int n = PQgetCopyData(c, &buf, 1);
    if (n > 0) {
      std::unique_ptr<char, void (*)(void*)> guard(buf, PQfreemem);
      return decode_copy_data(ByteSpan(reinterpret_cast<const uint8_t*>(buf), size_t(n)));
    }
    if (n == -1) return finish_stream();
    if (n == -2) {
      streaming_ = false;
      fail("streaming", trimmed(PQerrorMessage(c)));
    }
    // n == 0: nothing complete buffered; wait for the socket.
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                    deadline - std::chrono::steady_clock::now())
                    .count();
    if (left < 0) left = 0;
    pollfd p{};
    p.fd = PQsocket(c);
    if (p.fd < 0) {
      streaming_ = false;
      fail("streaming", "no socket");
    }
    p.events = POLLIN;
    int pr = ::poll(&p, 1, static_cast<int>(left));
    if (pr < 0) {
      if (errno == EINTR) continue;
      throw_errno("postgres replication: poll");
    }
    if (pr == 0) return std::nullopt;
    if (PQconsumeInput(c) == 0) {
      streaming_ = false;
      fail("streaming", trimmed(PQerrorMessage(c)));
    }
  }
}

// The server ended the COPY: answer its CopyDone with ours (if the copy is still open in our
// direction), then read the optional next-timeline result set and the CommandComplete.
Message ReplicationClient::finish_stream() {
  PGconn* c = session_->raw();
  streaming_ = false;
  auto r = wrap(PQgetResult(c));
  if (r && PQresultStatus(r.get()) == PGRES_COPY_IN) {
    if (PQputCopyEnd(c, nullptr) <= 0 || PQflush(c) != 0)
      fail("streaming", trimmed(PQerrorMessage(c)));
    r = wrap(PQgetResult(c));
  }
  if (!r) fail("streaming", trimmed(PQerrorMessage(c)));
  Message m;
  m.kind = Message::Kind::kEndOfStream;
  if (PQresultStatus(r.get()) == PGRES_TUPLES_OK) {
    // After a timeline switch: one row (next_tli, next_tli_startpos).
    if (PQntuples(r.get()) != 1 || PQnfields(r.get()) < 2)
      fail("streaming", "unexpected next-timeline result shape");
    m.next_timeline = parse_u32(field(r.get(), 0, 0), "next_tli");
    m.next_timeline_start = parse_server_lsn(field(r.get(), 0, 1), "next_tli_startpos");
    r = wrap(PQgetResult(c));
    if (!r) fail("streaming", trimmed(PQerrorMessage(c)));
  }
  if (PQresultStatus(r.get()) != PGRES_COMMAND_OK)
    fail("streaming", error_of(r.get(), session_->raw()));
  // Drain to the end of the command (ReadyForQuery) so the connection accepts the next one.
  // A walsender that stops for a shutdown sends CommandComplete and exits without
  // ReadyForQuery: libpq then reports the closed connection here. That is still a clean end of
  // the stream (everything sent was acknowledged); the next command fails with kIo.
  while (auto extra = wrap(PQgetResult(c))) {
    if (PQresultStatus(extra.get()) == PGRES_COMMAND_OK) continue;
    if (!m.next_timeline && PQstatus(c) == CONNECTION_BAD) break;
    fail("streaming", error_of(extra.get(), c));
  }
  return m;
}

void ReplicationClient::send_status(Lsn written, Lsn flushed, Lsn applied, bool reply_requested) {
  if (!streaming_) throw Error(Errc::kUsage, "postgres replication: send_status() without start()");
  Bytes msg =
      encode_status_update(written, flushed, applied,
                           to_postgres_time(std::chrono::system_clock::now()), reply_requested);
  PGconn* c = session_->raw();
  if (PQputCopyData(c, reinterpret_cast<const char*>(msg.data()), static_cast<int>(msg.size())) <=
          0 ||
      PQflush(c) != 0) {
    streaming_ = false;
    fail("sending a status update", trimmed(PQerrorMessage(c)));
  }
}

}  // namespace sr::pg

// pg/replication.h: a client of PostgreSQL's physical streaming replication protocol.
//
// ReplicationClient runs the replication commands (IDENTIFY_SYSTEM, CREATE_REPLICATION_SLOT,
// TIMELINE_HISTORY, START_REPLICATION) on a `replication=true` libpq connection and then reads
// the COPY BOTH stream: XLogData ('w') carries WAL bytes, primary keepalives ('k') carry the
// server's WAL end and may ask for a reply, and standby status updates ('r') report back how far
// the client has written/flushed/applied, which is what advances the slot's restart_lsn.
//
// Invariants and duties of the caller:
//  * start() is only valid while no stream is open; next() and send_status() only while one is.
//    After next() returns an EndOfStream message the connection is back in command mode, so the
//    caller may start() again on the next timeline (as pg_receivewal does).
//  * The caller must send_status() whenever a keepalive has reply_requested, and at least every
//    wal_sender_timeout / 2 (default 60 s / 2) even when idle, or the server drops the
//    connection. A fast server shutdown also waits until the reported flush position reaches
//    what was sent before it ends the stream (EndOfStream without a next timeline).
//  * XLogData messages arrive in order, each starting where the previous one ended; the caller
//    checks that (a gap means a bug or a broken server, not something to skip over).
//  * Errors are sr::Error: kUsage for bad arguments (slot names, calls out of order), kIo with
//    the server's message for anything the server or the connection reports (including the
//    server going away mid-stream), kCorrupt for CopyData bytes that do not decode. After a
//    kIo or kCorrupt the client is unusable: discard it and connect() again.
//
// The wire format is big-endian (network byte order), unlike strongroom's own little-endian
// encodings. The encoding and decoding are pure functions so they can be tested without a server.
//
// Not thread-safe: one client per thread; the client owns its connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/lsn.h"
#include "pg/libpq_session.h"

namespace sr::pg {

// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01 00:00:00 UTC).
constexpr int64_t kPostgresEpochOffsetMicros = 946684800LL * 1000000LL;

// PostgreSQL timestamps on the replication protocol: microseconds since 2000-01-01 UTC.
int64_t to_postgres_time(std::chrono::system_clock::time_point t);
std::chrono::system_clock::time_point from_postgres_time(int64_t micros);

struct SystemInfo {
  std::string system_identifier;      // decimal, e.g. "7301234567890123456"
  TimelineId timeline = 0;            // the server's current timeline
  Lsn xlogpos;                        // current WAL flush position
  std::optional<std::string> dbname;  // null on a physical replication connection
};

struct Message {
  enum class Kind { kXLogData, kKeepalive, kEndOfStream };
  Kind kind = Kind::kKeepalive;
  // kXLogData: LSN of data[0]. Unset otherwise.
  Lsn data_start;
  // kXLogData and kKeepalive: the server's current end of WAL.
  Lsn wal_end;
  // kXLogData and kKeepalive: server clock when sent, microseconds since 2000-01-01 UTC.
  int64_t send_time = 0;
  // kXLogData: the WAL bytes [data_start, data_start + data.size()).
  Bytes data;
  // kKeepalive: the server asks for an immediate send_status().
  bool reply_requested = false;
  // kEndOfStream: set when the server ended the stream because its timeline ended (a timeline
  // switch): the next timeline and the LSN where it begins on the old one's history; the
  // connection then accepts commands again. Unset when the server stopped streaming for another
  // reason: a clean (smart/fast) shutdown, after every byte sent was acknowledged as flushed. The
  // server has then closed the connection: reconnect.
  std::optional<TimelineId> next_timeline;
  std::optional<Lsn> next_timeline_start;
};

// The row IDENTIFY_SYSTEM returns (systemid, timeline, xlogpos, dbname; dbname nullopt when
// NULL), checked: systemid 1 to 20 decimal digits, timeline a decimal u32 > 0, xlogpos an LSN.
// Throws kIo naming the bad field. (A pure function, for tests and fuzz/replication_fuzz.cc.)
SystemInfo system_info_from_fields(const std::string& systemid, const std::string& timeline,
                                   const std::string& xlogpos, std::optional<std::string> dbname);

// Decodes one CopyData payload of a physical replication stream ('w' or 'k'). Throws kCorrupt on
// truncated or over-long messages and on unknown message types. Never returns kEndOfStream.
Message decode_copy_data(ByteSpan data);

// Encodes an XLogData or keepalive message (the server's side; for tests and fakes).
Bytes encode_xlog_data(Lsn data_start, Lsn wal_end, int64_t send_time, ByteSpan payload);
Bytes encode_keepalive(Lsn wal_end, int64_t send_time, bool reply_requested);

// A standby status update ('r', 34 bytes). `written`, `flushed`, `applied` are each one past the
// last byte the client wrote / durably stored / applied; `client_time` is microseconds since
// 2000-01-01 UTC.
Bytes encode_status_update(Lsn written, Lsn flushed, Lsn applied, int64_t client_time,
                           bool reply_requested);

// True iff `name` is a valid slot name for us: [a-z0-9_]{1,63}.
bool is_valid_slot_name(const std::string& name);

class ReplicationClient {
 public:
  // Opens a physical replication connection (replication=true). Throws kIo.
  static std::unique_ptr<ReplicationClient> connect(const std::string& conninfo);
  ~ReplicationClient();
  ReplicationClient(const ReplicationClient&) = delete;
  ReplicationClient& operator=(const ReplicationClient&) = delete;

  SystemInfo identify_system();

  // CREATE_REPLICATION_SLOT <slot> PHYSICAL RESERVE_WAL; an existing slot of that name counts as
  // success (it is not checked to be physical: START_REPLICATION will refuse a logical one).
  void create_physical_slot_if_missing(const std::string& slot);

  // The content of the history file of timeline `tli` (>= 2; timeline 1 has none). kUsage for
  // tli < 2, kIo when the server has no such file.
  std::string timeline_history(TimelineId tli);

  // START_REPLICATION [SLOT <slot>] PHYSICAL <start> TIMELINE <tli>. `slot` may be empty (no
  // slot). The caller must round `start` down to a WAL segment boundary (segment_of(start) *
  // segment size) so that every segment it writes is complete from its first byte; the server
  // itself accepts any position. Throws kIo when the server refuses the command (unknown slot,
  // `tli` not in its history). Some refusals come only after the server has entered COPY mode,
  // so they surface as kIo from the first next() instead: `start` ahead of the server's flush
  // position, or WAL at `start` already removed.
  void start(const std::string& slot, Lsn start, TimelineId tli);

  // The next message of the stream, or nullopt when none arrived within `timeout_ms` (>= 0; 0
  // polls). Returns kEndOfStream once when the server ends the stream; the client is then back
  // in command mode. Throws kIo when the server reports an error or the connection breaks.
  std::optional<Message> next(int timeout_ms);

  // Sends a standby status update with the current client time. See encode_status_update.
  void send_status(Lsn written, Lsn flushed, Lsn applied, bool reply_requested = false);

  bool streaming() const { return streaming_; }
  std::string describe() const { return session_->describe(); }

 private:
  explicit ReplicationClient(std::unique_ptr<Session> s) : session_(std::move(s)) {}
  Message finish_stream();
  [[noreturn]] void fail(const std::string& what, const std::string& server_message) const;

  std::unique_ptr<Session> session_;
  bool streaming_ = false;
};

}  // namespace sr::pg

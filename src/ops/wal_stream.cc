#include "ops/wal_stream.h"

#include <algorithm>
#include <cstring>
#include <thread>

#include "base/lsn.h"
#include "base/time_util.h"
#include "pg/libpq_session.h"
#include "pg/replication.h"
#include "repo/wal_store.h"

namespace sr::ops {

namespace {

// One session of streaming: from connect until the connection ends.
class Streamer {
 public:
  Streamer(repo::WalStore& store, const StreamOptions& o, const OpContext& ctx, uint64_t seg_size)
      : store_(store), o_(o), ctx_(ctx), seg_size_(seg_size) {}

  // Returns normally when the server ended the connection (reconnect) or a stop was requested.
  void run(pg::ReplicationClient& client, pg::TimelineId tli, uint64_t start_seg) {
    tli_ = tli;
    begin_segment(start_seg);
    client.start(o_.slot, pg::Lsn{start_seg * seg_size_}, tli_);
    last_flush_ = last_status_ = last_report_ = monotonic_seconds();
    for (;;) {
      bool stopping = ctx_.cancelled();
      auto msg = receive(client, stopping);
      double now = monotonic_seconds();
      bool dirty = buffer_.size() > durable_in_segment_;
      if (dirty && (o_.synchronous || stopping || now - last_flush_ >= o_.flush_interval)) {
        flush_increment();
        last_flush_ = now;
        status(client);
        last_status_ = now;
      }
      if (msg && msg->kind == pg::Message::Kind::kKeepalive) {
        server_end_ = std::max(server_end_, msg->wal_end.value);
        if (msg->reply_requested) {
          if (buffer_.size() > durable_in_segment_) flush_increment();
          status(client);
          last_status_ = now;
        }
      }
      if (msg && msg->kind == pg::Message::Kind::kEndOfStream) {
        if (buffer_.size() > durable_in_segment_) flush_increment();
        if (!msg->next_timeline) return;  // the server shut down: reconnect
        switch_timeline(client, *msg);
        continue;
      }
      if (now - last_status_ >= 1.0) {
        status(client);
        last_status_ = now;
      }
      if (now - last_report_ >= o_.report_interval) {
        log("streamed to " + pg::Lsn{pos_}.str() + ", durable to " + pg::Lsn{durable_}.str() +
            " on timeline " + std::to_string(tli_) + ", lag " + std::to_string(lag()) + " bytes");
        last_report_ = now;
      }
      if (stopping && buffer_.size() == durable_in_segment_) return;
    }
  }

  StreamStatus snapshot() const {
    StreamStatus s;
    s.timeline = std::to_string(tli_);
    s.received_lsn = pg::Lsn{pos_}.str();
    s.durable_lsn = pg::Lsn{durable_}.str();
    s.server_lsn = pg::Lsn{server_end_}.str();
    s.lag_bytes = lag();
    s.seconds_since_durable = last_durable_ ? monotonic_seconds() - last_durable_ : 0;
    return s;
  }

 private:
  uint64_t lag() const { return server_end_ > durable_ ? server_end_ - durable_ : 0; }

  // Waits up to 50 ms for a message (not at all when stopping) and takes every WAL message that
  // has arrived; returns the first other message, if any.
  std::optional<pg::Message> receive(pg::ReplicationClient& client, bool stopping) {
    auto msg = client.next(stopping ? 0 : 50);
    if (!msg || msg->kind != pg::Message::Kind::kXLogData) return msg;
    take(msg->data_start.value, msg->data);
    server_end_ = std::max(server_end_, msg->wal_end.value);
    while (auto more = client.next(0)) {  // drain what has arrived
      if (more->kind != pg::Message::Kind::kXLogData) return more;
      take(more->data_start.value, more->data);
      server_end_ = std::max(server_end_, more->wal_end.value);
    }
    return std::nullopt;
  }

  // A timeline switch: keep the new history file, continue on the new timeline.
  void switch_timeline(pg::ReplicationClient& client, const pg::Message& msg) {
    pg::TimelineId next = *msg.next_timeline;
    std::string history = client.timeline_history(next);
    char name[32];
    std::snprintf(name, sizeof name, "%08X.history", next);
    store_.push(name, as_bytes(history));
    log("timeline " + std::to_string(tli_) + " ended at " + msg.next_timeline_start->str() +
        "; following timeline " + std::to_string(next));
    tli_ = next;
    uint64_t seg = pg::segment_of(*msg.next_timeline_start, seg_size_);
    begin_segment(seg);
    client.start(o_.slot, pg::Lsn{seg * seg_size_}, tli_);
  }

  void status(pg::ReplicationClient& client) {
    uint64_t written = std::max(pos_, durable_);
    client.send_status(pg::Lsn{written}, pg::Lsn{durable_}, pg::Lsn{durable_});
  }

  std::string segment_name() const { return pg::SegmentName{tli_, segno_}.str(seg_size_); }

  void begin_segment(uint64_t seg) {
    segno_ = seg;
    buffer_ = store_.resume_increments(segment_name());  // what an earlier run stored
    stored_prefix_ = buffer_.size();
    durable_in_segment_ = buffer_.size();
    received_ = 0;
    pos_ = seg * seg_size_;
    durable_ = pos_ + durable_in_segment_;
  }

  void take(uint64_t start, ByteSpan data) {
    if (start != pos_)
      throw Error(Errc::kCorrupt, "WAL stream out of order: expected " + pg::Lsn{pos_}.str() +
                                      ", got " + pg::Lsn{start}.str());
    while (!data.empty()) {
      size_t room = static_cast<size_t>(seg_size_ - received_);
      size_t n = std::min(room, data.size());
      ByteSpan part = data.first(n);
      // Bytes the repository already holds (after a restart) must be the same.
      size_t overlap =
          received_ < stored_prefix_ ? std::min<size_t>(n, stored_prefix_ - received_) : 0;
      if (overlap && std::memcmp(buffer_.data() + received_, part.data(), overlap) != 0)
        throw Error(Errc::kCorrupt, "streamed WAL of " + segment_name() +
                                        " differs from the increments already in the repository");
      buffer_.insert(buffer_.end(), part.begin() + static_cast<ptrdiff_t>(overlap), part.end());
      received_ += n;
      pos_ += n;
      data = data.subspan(n);
      if (received_ == seg_size_) complete_segment();
    }
  }

  void flush_increment() {
    store_.push_increment(segment_name(), static_cast<uint32_t>(durable_in_segment_),
                          ByteSpan(buffer_).subspan(durable_in_segment_));
    durable_in_segment_ = buffer_.size();
    durable_ = segno_ * seg_size_ + durable_in_segment_;
    last_durable_ = monotonic_seconds();
  }

  void complete_segment() {
    std::string name = segment_name();
    store_.push(name, buffer_);  // archive_command may have stored it already: same bytes
    store_.remove_increments(name);
    durable_ = (segno_ + 1) * seg_size_;
    last_durable_ = monotonic_seconds();
    begin_segment(segno_ + 1);
  }

  void log(const std::string& m) { ctx_.log().info("stream", m); }

  repo::WalStore& store_;
  const StreamOptions& o_;
  const OpContext& ctx_;
  uint64_t seg_size_;
  pg::TimelineId tli_ = 1;
  uint64_t segno_ = 0, received_ = 0, pos_ = 0, durable_ = 0, server_end_ = 0;
  size_t stored_prefix_ = 0, durable_in_segment_ = 0;
  Bytes buffer_;
  double last_flush_ = 0, last_status_ = 0, last_report_ = 0, last_durable_ = 0;
};

// Where to resume on timeline `tli`: the first segment the repository does not hold whole.
uint64_t resume_segment(repo::WalStore& store, pg::TimelineId tli, uint64_t seg_size,
                        pg::Lsn server_pos) {
  std::optional<uint64_t> newest_full, newest_partial;
  store.list([&](const std::string& name) {
    if (auto s = pg::parse_segment_name(name, seg_size); s && s->timeline == tli)
      newest_full = std::max(newest_full.value_or(0), s->segno);
  });
  store.list_streamed([&](const std::string& name) {
    if (auto s = pg::parse_segment_name(name, seg_size); s && s->timeline == tli)
      newest_partial = std::max(newest_partial.value_or(0), s->segno);
  });
  if (newest_partial && (!newest_full || *newest_partial > *newest_full)) return *newest_partial;
  if (newest_full) return *newest_full + 1;
  return pg::segment_of(server_pos, seg_size);
}

// Checks that the server is the stanza's cluster (refusing another) and opens a replication
// connection; sets `segment_size` to the server's.
std::unique_ptr<pg::ReplicationClient> connect(repo::WalStore& store, const std::string& conninfo,
                                               uint64_t& segment_size) {
  auto session = pg::Session::connect(conninfo);
  repo::PgInfo info;
  info.system_identifier =
      session->value("SELECT system_identifier::text FROM pg_control_system()");
  info.version = session->server_version();
  info.segment_size = session->wal_segment_size();
  store.check_identity(info);  // refuses another cluster
  session.reset();
  segment_size = info.segment_size;
  return pg::ReplicationClient::connect(conninfo);
}

}  // namespace

nlohmann::json StreamStatus::to_json() const {
  return {{"timeline", timeline},       {"received_lsn", received_lsn},
          {"durable_lsn", durable_lsn}, {"server_lsn", server_lsn},
          {"lag_bytes", lag_bytes},     {"seconds_since_durable", seconds_since_durable}};
}

StreamStatus stream_wal(repo::Repository& repo, const StreamOptions& o, const OpContext& ctx) {
  if (!pg::is_valid_slot_name(o.slot))
    throw Error(Errc::kUsage, "invalid slot name '" + o.slot + "'");
  repo::WalStore store(repo, o.stanza);
  StreamStatus last;
  double backoff = 1;
  bool first = true;
  while (!ctx.cancelled()) {
    try {
      uint64_t segment_size = 0;
      auto client = connect(store, o.conninfo, segment_size);
      auto sys = client->identify_system();
      client->create_physical_slot_if_missing(o.slot);
      uint64_t seg = resume_segment(store, sys.timeline, segment_size, sys.xlogpos);
      ctx.log().info("stream", std::string(first ? "streaming" : "reconnected; streaming") +
                                   " timeline " + std::to_string(sys.timeline) + " from " +
                                   pg::Lsn{seg * segment_size}.str() + " on slot " + o.slot +
                                   (o.synchronous ? " (synchronous)" : ""));
      first = false;
      Streamer streamer(store, o, ctx, segment_size);
      streamer.run(*client, sys.timeline, seg);
      last = streamer.snapshot();
      backoff = 1;
    } catch (const Error& e) {
      // Another cluster, diverging bytes or a bad option will not heal by reconnecting.
      if (e.code() != Errc::kIo && e.code() != Errc::kTransient) throw;
      ctx.log().warn("stream", std::string("connection lost: ") + e.what() + "; retrying");
    }
    // Wait before reconnecting (interruptible by a stop).
    if (ctx.cancel)
      ctx.cancel->wait_for(backoff);
    else
      std::this_thread::sleep_for(std::chrono::duration<double>(backoff));
    backoff = std::min(backoff * 2, 10.0);
  }
  return last;
}

}  // namespace sr::ops

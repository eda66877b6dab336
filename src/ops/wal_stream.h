// ops/wal_stream.h: continuous WAL streaming into the repository (`strongroom stream`).
//
// Speaks the replication protocol on a physical replication slot, so the server keeps every WAL
// byte until strongroom has it. Bytes are collected per segment; the not-yet-complete segment
// is written to the repository as increments (repo/wal_store.h) at least every `flush_interval`
// (RPO <= 1 s by default), and a completed segment is pushed whole (the same object
// archive_command would write) and its increments removed. The flush position reported to the
// server is the end of what is durable in the repository; with `synchronous` an increment is
// written as soon as the stream pauses, so with synchronous_standby_names naming this client
// (application_name, default "strongroom") no acknowledged commit can be lost (RPO = 0).
// Restarts of the server or of strongroom resume where the repository ends: the bytes of the
// current segment are re-received and compared with the stored increments, so a gap or a
// divergence is an error, never silent. Timeline switches store the new history file and go on.
// Progress reports and reconnections go to ctx.log() (component "stream", info; a lost
// connection at warn).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/context.h"
#include "repo/repository.h"

namespace sr::ops {

struct StreamOptions {
  std::string stanza = "main";
  std::string conninfo;
  std::string slot = "strongroom";
  bool synchronous = false;
  // Seconds, asynchronous mode. Half a second, so that what the server sees as the standby's
  // flush lag (interval + write time) stays under one second: with 1.0 it peaked at 1.03 s.
  double flush_interval = 0.5;
  double report_interval = 10.0;  // seconds between lag reports
};

struct StreamStatus {
  std::string timeline, received_lsn, durable_lsn, server_lsn;
  uint64_t lag_bytes = 0;
  double seconds_since_durable = 0;

  // timeline, received_lsn, durable_lsn, server_lsn, lag_bytes, seconds_since_durable.
  nlohmann::json to_json() const;
};

// Runs until ctx is cancelled (then writes what it has and returns the final status; no
// kCancelled error) or an error that reconnecting cannot cure (another cluster, diverging WAL).
StreamStatus stream_wal(repo::Repository& repo, const StreamOptions& options, const OpContext& ctx);

}  // namespace sr::ops

// ops/wal_spool.h: asynchronous WAL archiving: pushing ahead, and a local spool.
//
// `wal-push --async-spool DIR %p` never makes PostgreSQL wait for more than its own segment, and
// never refuses a segment because the repository is away:
//  - A pusher process (started on demand, one per spool, guarded by an flock, exiting after a
//    quiet period) pushes ahead: it watches pg_wal/archive_status for `.ready` segments and
//    pushes the oldest ones in parallel straight from pg_wal (they cannot be recycled before
//    they are archived), marking each done (DIR/done/NAME) once it is durable in the
//    repository. When PostgreSQL then asks for that segment, the call returns at once.
//  - A call whose segment is not pushed yet waits for the pusher (it pushes the oldest `.ready`
//    segments first, which is the one PostgreSQL asks for), so that the two do not compete for
//    the cores. The call pushes its segment itself (and marks it done) when no pusher runs, the
//    pusher reports failures (DIR/failing) or it has waited 30 s. While the pusher reports
//    failures, calls spool at once. A segment the repository refuses (different content under
//    its name, another cluster's) is left to the call (DIR/refused/NAME), which fails loudly.
//  - When the repository cannot take it (unreachable, failing), the segment is copied into the
//    spool (temporary name, fsync, rename, directory fsync) and the call succeeds; the pusher
//    pushes spooled files later and removes each only once it is durable in the repository.
// The spool must be on durable local storage and belongs to one stanza and one cluster.
// Messages (the pusher's, and a call's when it spools) go to ctx.log() under the components
// "pusher" and "wal-push", at level warn; the pusher stops when ctx is cancelled.
#pragma once

#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "base/context.h"
#include "repo/repository.h"

namespace sr::ops {

using RepoOpener = std::function<std::unique_ptr<repo::Repository>()>;

// Durably copies `path` into the spool; returns the spooled file's path.
std::string spool_wal(const std::string& spool_dir, const std::string& path);

// Records the pg_wal directory of `path` (the file archive_command was given) as the pusher's
// source of `.ready` segments.
void note_wal_source(const std::string& spool_dir, const std::string& path);

struct AsyncPushOptions {
  std::string stanza = "main";
  std::string spool_dir;
  std::string path;  // the file PostgreSQL gives (%p)
};

enum class AsyncPush { kPushedAhead, kPushed, kSpooled };
struct AsyncPushResult {
  std::string file;  // the path given
  AsyncPush how = AsyncPush::kPushed;

  // What `wal-push --async-spool --json` prints: file, result ("pushed ahead", "pushed" or
  // "spooled").
  nlohmann::json to_json() const;
};

// One archive_command call in asynchronous mode (see above). Throws only for errors that
// spooling cannot help: not a WAL file, another cluster's segment, different content.
// `open_repo` is called only when this call pushes the file itself.
AsyncPushResult async_push(const RepoOpener& open_repo, const AsyncPushOptions& options,
                           const OpContext& ctx);

struct PusherOptions {
  std::string stanza = "main";
  std::string spool_dir;
  double idle_seconds = 10;  // exit after this long without work
};

// Runs the pusher if no other holds the spool's lock; returns false at once otherwise.
// `open_repo` is called only when there is work (so a locked-out pusher costs nothing).
// Returns when idle for options.idle_seconds, or soon after ctx is cancelled (pushes in
// flight finish first).
bool run_pusher(const RepoOpener& open_repo, const PusherOptions& options, const OpContext& ctx);

// True while a pusher holds the spool's lock.
bool pusher_running(const std::string& spool_dir);

// Number of files waiting in the spool.
size_t spooled_count(const std::string& spool_dir);

// The pusher's bookkeeping, exposed for its unit tests.
namespace spool {
// What the pusher sees in one round.
struct Scan {
  std::string source;                // pg_wal, as noted by note_wal_source ("" if none)
  std::vector<std::string> ready;    // `.ready` in source's archive_status, oldest first
  std::vector<std::string> spooled;  // files in the spool, oldest first
  std::set<std::string> done;        // DIR/done markers: pushed ahead, not archived yet
  std::set<std::string> refused;     // DIR/refused markers: left to archive_command
};
Scan scan(const std::string& spool_dir);
// What to push next, oldest first: spooled files (the backlog; true: from the spool), then
// `.ready` segments not pushed yet, not in the spool and not refused.
std::vector<std::pair<std::string, bool>> next_pushes(const Scan& s);
// Markers (done or refused) of segments PostgreSQL has archived since (no longer `.ready`).
std::vector<std::string> spent_markers(const std::set<std::string>& markers,
                                       const std::vector<std::string>& ready);
}  // namespace spool

}  // namespace sr::ops

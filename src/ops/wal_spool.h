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
#pragma once

#include <functional>
#include <string>

#include "repo/repository.h"

namespace sr::ops {

// Durably copies `path` into the spool; returns the spooled file's path.
std::string spool_wal(const std::string& spool_dir, const std::string& path);

// Records the pg_wal directory of `path` (the file archive_command was given) as the pusher's
// source of `.ready` segments.
void note_wal_source(const std::string& spool_dir, const std::string& path);

enum class AsyncPush { kPushedAhead, kPushed, kSpooled };
// One archive_command call in asynchronous mode (see above). Throws only for errors that
// spooling cannot help: not a WAL file, another cluster's segment, different content.
AsyncPush async_push(const std::function<std::unique_ptr<repo::Repository>()>& open_repo,
                     const std::string& stanza, const std::string& spool_dir,
                     const std::string& path, const std::function<void(const std::string&)>& log);

// Runs the pusher if no other holds the spool's lock; returns false at once otherwise.
// `open_repo` is called only when there is work (so a locked-out pusher costs nothing).
bool run_pusher(const std::function<std::unique_ptr<repo::Repository>()>& open_repo,
                const std::string& stanza, const std::string& spool_dir, double idle_seconds,
                const std::function<void(const std::string&)>& log);

// True while a pusher holds the spool's lock.
bool pusher_running(const std::string& spool_dir);

// Number of files waiting in the spool.
size_t spooled_count(const std::string& spool_dir);

}  // namespace sr::ops

// ops/wal_spool.h: asynchronous WAL archiving through a local spool.
//
// `wal-push --async --spool DIR`: the file PostgreSQL hands over is copied into DIR (temporary
// name, fsync, rename, directory fsync) and archive_command returns at once, without touching
// the repository — so archiving never holds back a busy server and keeps accepting segments
// while the repository is unreachable. A pusher process (started on demand, one per spool,
// guarded by an flock) pushes spooled files to the repository in parallel and removes each only
// once it is durable there; it retries while the repository is unreachable and exits after a
// quiet period. The spool must be on durable local storage and belongs to one stanza.
#pragma once

#include <functional>
#include <string>

#include "repo/repository.h"

namespace sr::ops {

// Durably copies `path` into the spool; returns the spooled file's path.
std::string spool_wal(const std::string& spool_dir, const std::string& path);

// Runs the pusher if no other holds the spool's lock; returns false at once otherwise.
// `open_repo` is called only when there is work (so a locked-out pusher costs nothing).
bool run_pusher(const std::function<std::unique_ptr<repo::Repository>()>& open_repo,
                const std::string& stanza, const std::string& spool_dir, double idle_seconds,
                const std::function<void(const std::string&)>& log);

// Number of files waiting in the spool.
size_t spooled_count(const std::string& spool_dir);

}  // namespace sr::ops

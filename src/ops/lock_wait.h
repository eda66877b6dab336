// ops/lock_wait.h: taking a repository lock, waiting while another operation holds a
// conflicting one (backups while prune or expire sweep; expire and prune while backups run).
#pragma once

#include <memory>
#include <string>

#include "base/context.h"
#include "repo/lock.h"

namespace sr::ops {

// RepoLock::acquire, retried every 2 s while it fails with kLocked, for up to `wait_seconds`
// (0: one attempt); cancellable. The first wait is logged (info) with the holder.
std::unique_ptr<repo::RepoLock> acquire_waiting(repo::Repository& repo,
                                                const std::string& operation, bool exclusive,
                                                int wait_seconds, const OpContext& ctx);

}  // namespace sr::ops

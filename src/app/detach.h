// app/detach.h: running work in a detached background process (the asynchronous WAL pusher,
// WAL prefetching for restore_command).
//
// run_detached forks twice (the intermediate child exits at once and is reaped here, so no
// zombie is left and the worker is re-parented to init), starts a new session, points stdin at
// /dev/null and stdout/stderr at `log_path` (appended, 0600) or /dev/null when empty, runs `work`
// in the grandchild and exits it with _exit(0) whatever happens (an error is written to the log as
// "TIME strongroom NAME: MESSAGE").
// Returns in the caller once the intermediate child is gone; a failed fork is ignored (callers
// treat the background work as an optimisation that the next call retries).
#pragma once

#include <functional>
#include <string>

namespace sr::app {

void run_detached(const std::string& name, const std::string& log_path,
                  const std::function<void()>& work);

}  // namespace sr::app

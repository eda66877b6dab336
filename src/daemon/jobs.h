// daemon/jobs.h: a job as the CLI command it is. The daemon runs every job as a child process of
// its own binary with these arguments (docs/daemon.md, "How jobs run"), so a scheduled backup is
// exactly `strongroom backup --config FILE --source NAME --type full --json`.
#pragma once

#include <string>
#include <vector>

#include "daemon/scheduler.h"

namespace sr::daemon {

// argv (without the program) of the command that runs `spec` with configuration `config_file`.
std::vector<std::string> job_arguments(const JobSpec& spec, const std::string& config_file);
// argv of WAL streaming for a source (kept running by the daemon).
std::vector<std::string> stream_arguments(const std::string& source,
                                          const std::string& config_file);

// What a finished job's --json result says: bytes it added/copied/freed, and whether the
// command reports a failure in its result (a failed restore test exits non-zero too).
struct JobOutcome {
  uint64_t bytes = 0;
  std::string error;  // from the result or the last line of the log
};
JobOutcome read_outcome(const std::string& job, const std::string& json_text);

// Checks a job requested over the API or by run-now against the configuration: kUsage naming
// what is wrong (unknown source or job, a type for a source that has none, …).
JobSpec manual_job(const config::Config& c, const std::string& job, const std::string& source,
                   const std::string& type);

// The body of POST /api/jobs: a JSON object {"job": ..., "source": ..., "type": ...} (source and
// type optional, null as absent; other keys refused). kUsage naming what is wrong.
struct JobRequest {
  std::string job, source, type;
};
JobRequest parse_job_request(std::string_view body);

}  // namespace sr::daemon

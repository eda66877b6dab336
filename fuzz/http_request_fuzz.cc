// fuzz/http_request_fuzz.cc: what the daemon's HTTP API parses itself (cpp-httplib parses the
// request line and headers): the body of POST /api/jobs (daemon::parse_job_request, then the
// check against the configuration, daemon::manual_job) and a listen address (parse_listen, for
// server.listen and --listen).
//
// Properties: every input is accepted or refused with Error{kUsage}; no other exception
// escapes; an accepted request names a configured source, a known job and a valid type.
#include <cstddef>
#include <cstdint>

#include "config/config.h"
#include "daemon/http_api.h"
#include "daemon/jobs.h"
#include "fuzz_util.h"

using namespace sr;

namespace {
const config::Config& fixed_config() {
  static const config::Config c = config::parse_config(
      "repositories: {primary: {url: /tmp/r}, dr: {url: /tmp/dr}}\n"
      "sources:\n"
      "  accounts: {type: postgres, kind: database, pg_data: /d, pg_conn: host=/tmp}\n"
      "  etc: {type: files, kind: configuration, paths: [/etc]}\n"
      "jobs: {replicate: {cron: '0 * * * *', to: dr}}\n",
      "fuzz.yaml");
  return c;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // the API refuses larger bodies before parsing
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    daemon::JobRequest r = daemon::parse_job_request(text);
    daemon::JobSpec s = daemon::manual_job(fixed_config(), r.job, r.source, r.type);
    FUZZ_CHECK(!s.job.empty() && !s.repository.empty());
    if (s.job == "backup") FUZZ_CHECK(s.source == "accounts" || s.source == "etc");
    if (!s.type.empty()) FUZZ_CHECK(s.type == "full" || s.type == "diff" || s.type == "incr");
    FUZZ_CHECK(!daemon::job_arguments(s, "/c.yaml").empty());
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == Errc::kUsage);
  }
  try {
    daemon::HttpOptions o;
    daemon::parse_listen(text, o);
    FUZZ_CHECK(o.port >= 0 && o.port <= 65535 && !o.host.empty());
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == Errc::kUsage);
  }
  return 0;
}

// fuzz/config_fuzz.cc: config::parse_config on arbitrary bytes (a configuration file is written
// by people and tools; a bad one must be refused with a message, never crash or hang).
//
// Properties: parse_config returns or throws sr::Error with code kUsage whose message names the
// file; no other exception escapes (yaml-cpp's own are turned into errors); a parsed
// configuration's references hold (every source's repository exists, replicate_from names an
// existing repository), its schedules' next runs are computable, and its durations format back.
#include <cstddef>
#include <cstdint>

#include "config/config.h"
#include "fuzz_util.h"

using namespace sr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 64 * 1024) return 0;  // configuration files are small; keep runs fast
  std::string text(reinterpret_cast<const char*>(data), size);
  config::Config c;
  try {
    c = config::parse_config(text, "fuzz.yaml");
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == Errc::kUsage);
    FUZZ_CHECK(std::string(e.what()).rfind("fuzz.yaml", 0) == 0);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "parse_config let an exception escape: %s\n", e.what());
    FUZZ_CHECK(false);
  }
  for (const auto& s : c.sources) {
    FUZZ_CHECK(c.repositories.count(s.repository) == 1);
    for (const auto& sc : s.schedules) (void)sc.cron.next_after(0);
    (void)config::parse_duration(config::format_duration(s.verify.max_age));
    (void)c.retention_for(s);
  }
  for (const auto& [name, r] : c.repositories)
    FUZZ_CHECK(r.replicate_from.empty() || c.repositories.count(r.replicate_from) == 1);
  return 0;
}

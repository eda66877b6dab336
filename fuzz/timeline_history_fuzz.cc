// fuzz/timeline_history_fuzz.cc: catalog::TimelineHistory::parse of arbitrary bytes (a
// NNNNNNNN.history file from the repository, which restore and WAL-chain checks read).
//
// Properties: throws sr::Error or returns switches whose parents are earlier timelines than the
// history's own.
#include <cstddef>
#include <cstdint>
#include <string>

#include "catalog/timeline_history.h"
#include "fuzz_util.h"

using namespace sr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const pg::TimelineId tli = 1 + data[0] % 16;
  std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    auto h = pg::TimelineHistory::parse(tli, text);
    for (const auto& s : h.switches) FUZZ_CHECK(s.parent < tli);
  } catch (const Error&) {
  }
  return 0;
}

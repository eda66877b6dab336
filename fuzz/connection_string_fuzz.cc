// fuzz/connection_string_fuzz.cc: Azure connection strings (configuration from the environment)
// on arbitrary bytes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "storage/azure_config.h"

using namespace sr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  try {
    (void)storage::parse_connection_string(text);
  } catch (const Error&) {
  }
  return 0;
}

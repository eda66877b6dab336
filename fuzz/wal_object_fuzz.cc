// fuzz/wal_object_fuzz.cc: repo::open_wal_object (WAL segments in the repository) with fixed
// keys, on arbitrary bytes; and seal/open round trips of the input as a WAL file's content.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "repo/wal_store.h"

using namespace sr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const repo::KeySet& keys = fuzz::keys();
  const std::string key = "wal/main/0000000100000000/000000010000000000000001";
  ByteSpan in(data, size);
  try {
    (void)repo::open_wal_object(keys, key, in);
  } catch (const Error& e) {
    FUZZ_CHECK(e.code() == Errc::kCorrupt);
  }
  Bytes sealed = repo::seal_wal_object(keys, key, in);
  FUZZ_CHECK(repo::open_wal_object(keys, key, sealed) == Bytes(in.begin(), in.end()));
  return 0;
}

// fuzz/lock_fuzz.cc: lock objects (locks/<id>), which any holder of the storage credentials can
// write: repo::open_envelope with the fixed meta key, then repo::decode_lock. Byte 0 even: the
// rest is the stored object. Byte 0 odd: the rest is the lock record (JSON), sealed into a valid
// envelope first so that decode_lock is reached on every input.
//
// Properties: only sr::Error and nlohmann::json::exception escape (both make the lock unreadable,
// hence stale, in RepoLock::list); a stored object that does not open fails with kCorrupt or
// kUnsupported (what RepoLock treats as unreadable; anything else would block every command);
// a decoded lock keeps the id it was read under.
#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "fuzz_util.h"
#include "repo/envelope.h"
#include "repo/lock.h"

using namespace sr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const std::string id(32, 'c');
  const std::string key = "locks/" + id;
  ByteSpan rest(data + 1, size - 1);
  Bytes payload;
  if (data[0] & 1) {
    payload = repo::seal_envelope(fuzz::keys(), repo::EnvelopeKind::kLock, key, rest);
    payload = repo::open_envelope(fuzz::keys(), repo::EnvelopeKind::kLock, key, payload);
    FUZZ_CHECK(payload == Bytes(rest.begin(), rest.end()));
  } else {
    try {
      payload = repo::open_envelope(fuzz::keys(), repo::EnvelopeKind::kLock, key, rest);
    } catch (const Error& e) {
      FUZZ_CHECK(e.code() == Errc::kCorrupt || e.code() == Errc::kUnsupported);
      return 0;
    }
  }
  try {
    repo::LockInfo l = repo::decode_lock(id, payload);
    FUZZ_CHECK(l.id == id);
    FUZZ_CHECK(l.readable && !l.stale);
  } catch (const Error&) {
  } catch (const nlohmann::json::exception&) {
  }
  return 0;
}

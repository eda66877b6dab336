// fuzz/key_slot_fuzz.cc: the objects a repository reads before anything is authenticated: a key
// slot (keys/<id>, parsed and tried with a password) and the outer `config` object
// (Repository::open). Byte 0 chooses which; the rest is the object.
//
// Properties: only sr::Error escapes (no crash, no other exception); a key slot that is not ours
// never opens with the password; list_key_slots prints no control characters.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_util.h"
#include "repo/keys.h"
#include "repo/repository.h"
#include "storage/memory_storage.h"

using namespace sr;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  ByteSpan object(data + 1, size - 1);
  auto store = std::make_unique<storage::MemoryStorage>("fuzz", "/tmp");
  try {
    if (data[0] & 1) {
      store->put("config", object);
      repo::Repository::open(std::move(store), repo::Credential{"pw", false},
                             repo::RepoOptions{"/tmp/strongroom-fuzz-cache"});
      FUZZ_CHECK(false);  // no key slot exists: opening cannot succeed
    } else {
      const std::string id(64, 'a');
      store->put("keys/" + id, object);
      for (const auto& s : repo::list_key_slots(*store))
        for (char c : s.host + s.user)
          FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f);
      (void)repo::open_key_slots(*store, "pw");
      FUZZ_CHECK(false);  // a random slot cannot hold a key set sealed under "pw"
    }
  } catch (const Error&) {
  }
  return 0;
}

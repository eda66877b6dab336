// storage/storage.h: a flat store of immutable whole objects: the only thing a repository needs
// from a backend (local disk, S3, Azure Blob, memory; FaultStorage decorates any of them).
// storage_conformance_test.cc checks this contract on every backend.
//
// Contract, for every implementation:
//  - Keys are '/'-separated relative names ("data/ab/ab12…", "index/…"); no directories exist.
//  - put/put_file publish atomically: a reader sees the whole object or nothing, never a prefix.
//  - With if_absent, put fails with Errc::kAlreadyExists when the key is present. A backend without
//    conditional writes reports supports_conditional_put() == false; the repository never relies
//    on if_absent for correctness (object names are random or content-derived), only to detect
//    misuse early.
//  - Objects are never modified; there is no rename and no append.
//  - get of a missing key throws Errc::kNotFound; a range past the object's end throws
//    Errc::kCorrupt (never a short answer); remove of a missing key succeeds.
//  - stat and list see objects only (a key prefix is not an object); list visits each object once.
//  - Thread-safe: any method may be called from several threads at once.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "base/bytes.h"
#include "base/log.h"
#include "storage/settings.h"

namespace sr::storage {

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
  int64_t mtime_ns = 0;  // last modified, where the store tells cheaply (local); 0: unknown
};

class Storage {
 public:
  virtual ~Storage() = default;
  // Human-readable location for messages, e.g. "local:/srv/repo".
  virtual std::string describe() const = 0;
  virtual bool supports_conditional_put() const = 0;

  virtual void put(const std::string& key, ByteSpan data, bool if_absent = false) = 0;
  // Publishes the contents of a local file (created in staging_dir()). The file is consumed: the
  // backend may move it into place; the caller must not use it afterwards.
  virtual void put_file(const std::string& key, const std::string& path, bool if_absent = false);
  // Reads [offset, offset+length) of the object; length nullopt means to the end.
  virtual Bytes get(const std::string& key, uint64_t offset = 0,
                    std::optional<uint64_t> length = std::nullopt) = 0;
  virtual std::optional<ObjectInfo> stat(const std::string& key) = 0;
  // Calls visit for every object whose key starts with prefix, in no particular order.
  virtual void list(const std::string& prefix,
                    const std::function<void(const ObjectInfo&)>& visit) = 0;
  virtual void remove(const std::string& key) = 0;
  // A local directory where large objects are assembled before put_file.
  virtual std::string staging_dir() = 0;
  // Creates the container the objects live in (directory, S3 bucket, Azure container) when it is
  // missing; an existing one is fine. Object stores also create it on the first put that finds
  // it missing, so callers need this only to fail early (e.g. `init` with bad credentials).
  virtual void create_if_missing() {}
};

// get() of the whole object, or nullopt when it does not exist.
std::optional<Bytes> get_if_exists(Storage& storage, const std::string& key);

// Opens the backend for a repository URL: a path, file:///path, s3://BUCKET[/PREFIX] or
// azure://CONTAINER[/PREFIX], configured by `settings` (credentials, endpoints, limits: see
// settings.h, s3_config.h and azure_config.h). Throws Errc::kUsage for a bad URL or settings,
// including a CA bundle (settings.http.ca_file) that cannot be read. A plain http:// object-store
// endpoint on a host that is not loopback is warned about on `log` (transport_security.h).
std::unique_ptr<Storage> open_storage(const std::string& url, const StorageSettings& settings,
                                      log::Logger* log = nullptr);

}  // namespace sr::storage

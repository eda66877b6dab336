// repo/objects.h: the kinds of object a repository stores, and where each kind lives.
//
// Object names (prefixes such as data/, index/, manifests/) and envelope kinds are known to
// repo/ alone: layers above name an ObjectKind and pass ObjectRefs back to Repository methods
// (list_objects, copy_object_to) without looking inside. The free functions work on any Storage,
// also one that holds no repository yet (a replica being created). Pure or storage-bound;
// thread-safe as the Storage is.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "storage/storage.h"

namespace sr::repo {

enum class ObjectKind {
  kConfig,       // the repository's configuration (one object)
  kKeySlot,      // password- or key-file-protected copies of the key set
  kPack,         // packs of encrypted chunks
  kWal,          // PostgreSQL WAL segments, history files and streamed increments
  kPgInfo,       // a PostgreSQL cluster's identity
  kIndex,        // index objects (which chunk is where)
  kMark,         // named restore points
  kManifest,     // backups
  kLock,         // repository locks (never replicated)
  kHold,         // holds: backups that expire may not remove (legal hold)
  kDeletion,     // deletion records: what expire/prune removed, so clients accept it
  kPrunePlan,    // prune's candidates, waiting out the grace period (never replicated)
  kRestoreTest,  // results of restore tests
};

// "pack", "index object", … for messages.
const char* object_kind_name(ObjectKind kind);

struct ObjectRef {
  ObjectKind kind = ObjectKind::kConfig;
  std::string key;  // opaque to callers: hand it back to the repository
  uint64_t size = 0;
  // The object's own name: a backup id for manifests, a pack name for packs, a segment name…
  std::string name() const;
};

// The objects of one kind in `storage`, sorted by key. Staging and incomplete uploads are never
// listed.
std::vector<ObjectRef> list_objects(storage::Storage& storage, ObjectKind kind);
// Staging files and incomplete uploads (never part of a repository, never copied).
bool is_staging_object(const std::string& key);
// The kind an object key belongs to, or nullopt for a key no repository object has.
std::optional<ObjectKind> object_kind_of(const std::string& key);
// The id recorded in the storage's config object (its public part), nullopt when there is none;
// throws Errc::kCorrupt when the object is not a strongroom config.
std::optional<std::string> stored_repository_id(storage::Storage& storage);

// Object keys (for repo/ itself).
std::string object_prefix(ObjectKind kind);  // "data/", "index/", …; "config" for kConfig
std::string manifest_key(const std::string& id);
std::string mark_key(const std::string& stanza, const std::string& name);
std::string key_slot_key(const std::string& id);
std::string hold_key(const std::string& backup_id);

}  // namespace sr::repo

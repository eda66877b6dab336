#include "ops/replicate.h"

#include <map>
#include <mutex>

#include "base/worker_pool.h"
#include "repo/objects.h"

namespace sr::ops {

namespace {
using Listing = std::map<std::string, repo::ObjectRef>;  // key -> object

Listing as_listing(const std::vector<repo::ObjectRef>& objects) {
  Listing out;
  for (const auto& o : objects) out.emplace(o.key, o);
  return out;
}
}  // namespace

ReplicateResult replicate(repo::Repository& source, storage::Storage& target,
                          const ReplicateOptions& options) {
  using repo::ObjectKind;
  ReplicateResult result;

  // The target is empty (it becomes a replica) or already a replica of this repository.
  if (!options.dry_run) target.create_if_missing();
  if (auto id = repo::stored_repository_id(target)) {
    if (*id != source.config().id)
      throw Error(Errc::kUsage, target.describe() + " holds another repository (" + *id +
                                    "), not a replica of " + source.config().id);
  } else {
    result.created = true;
  }

  // List in the reverse of the writers' order (see the header), then the target.
  static const ObjectKind kListOrder[] = {
      ObjectKind::kManifest, ObjectKind::kMark, ObjectKind::kIndex,  ObjectKind::kPgInfo,
      ObjectKind::kPack,     ObjectKind::kWal,  ObjectKind::kKeySlot};
  std::map<ObjectKind, Listing> have_src, have_dst;
  for (ObjectKind k : kListOrder) have_src[k] = as_listing(source.list_objects(k));
  for (ObjectKind k : kListOrder) have_dst[k] = as_listing(repo::list_objects(target, k));
  if (result.created) {
    // No config yet: an empty location, or a replica whose first run was interrupted (every
    // object there is one of the source's). Anything else is not ours to write into.
    target.list("", [&](const storage::ObjectInfo& o) {
      if (repo::is_staging_object(o.key)) return;
      if (auto k = repo::object_kind_of(o.key); k && have_src[*k].count(o.key)) return;
      throw Error(Errc::kUsage, target.describe() + " holds " + o.key +
                                    ", which is not part of the source repository; refusing to "
                                    "write into it (give an empty location or a replica)");
    });
  }

  // What is missing, grouped in copy order.
  static const ObjectKind kCopyOrder[] = {
      ObjectKind::kKeySlot, ObjectKind::kPack, ObjectKind::kWal,     ObjectKind::kPgInfo,
      ObjectKind::kIndex,   ObjectKind::kMark, ObjectKind::kManifest};
  std::vector<std::vector<repo::ObjectRef>> phases;
  for (ObjectKind k : kCopyOrder) {
    phases.emplace_back();
    for (const auto& [key, object] : have_src[k]) {
      const uint64_t size = object.size;
      ++result.source_objects;
      auto it = have_dst[k].find(key);
      if (it != have_dst[k].end()) {
        if (it->second.size != size)
          throw Error(Errc::kCorrupt, target.describe() + ": " + key + " has " +
                                          std::to_string(it->second.size) + " bytes, the source " +
                                          std::to_string(size) +
                                          " (damaged replica: verify it, remove the object and "
                                          "replicate again)");
        ++result.present_objects;
        continue;
      }
      phases.back().push_back(object);
      ++result.missing_objects;
      result.missing_bytes += size;
      if (k == ObjectKind::kManifest) {
        try {
          auto m = source.load_manifest(object.name());
          result.newest_missing_backup_ns =
              std::max(result.newest_missing_backup_ns, m.end_time_ns);
        } catch (const Error&) {
          // Damaged: copy_object_to() below reports it.
        }
      }
    }
  }
  auto config = source.list_objects(ObjectKind::kConfig);
  if (result.created) {
    ++result.missing_objects;  // config
    for (const auto& c : config) result.missing_bytes += c.size;
  }
  if (options.dry_run) return result;
  if (options.counters) {
    options.counters->total_bytes = result.missing_bytes;
    options.counters->total_files = result.missing_objects;
    options.counters->total_known = true;
  }

  std::mutex mu;
  auto copy = [&](const repo::ObjectRef& object) {
    uint64_t bytes = source.copy_object_to(object, target);  // authenticated on the way
    std::lock_guard g(mu);
    ++result.copied_objects;
    result.copied_bytes += bytes;
    if (options.counters) {
      options.counters->bytes += bytes;
      ++options.counters->files;
    }
  };
  for (const auto& phase : phases) {
    // Packs are up to tens of MiB each: two transfers at a time bound memory.
    WorkerPool pool(2, 2);
    for (const auto& object : phase) pool.submit([&, object] { copy(object); });
    pool.wait();  // a phase completes before the objects that refer to it are copied
  }
  if (result.created) {
    for (const auto& c : config) {
      result.copied_bytes += source.copy_object_to(c, target);
      ++result.copied_objects;
    }
  }
  return result;
}

}  // namespace sr::ops

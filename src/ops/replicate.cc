#include "ops/replicate.h"

#include <map>
#include <mutex>

#include "base/time_util.h"
#include "base/worker_pool.h"
#include "repo/objects.h"

namespace sr::ops {

namespace {
using repo::ObjectKind;
using Listing = std::map<std::string, repo::ObjectRef>;  // key -> object

// Listed in the reverse of the writers' order (see the header); copied in their order.
constexpr ObjectKind kListOrder[] = {
    ObjectKind::kManifest, ObjectKind::kMark,       ObjectKind::kIndex,   ObjectKind::kPgInfo,
    ObjectKind::kPack,     ObjectKind::kWal,        ObjectKind::kKeySlot, ObjectKind::kHold,
    ObjectKind::kDeletion, ObjectKind::kRestoreTest};
constexpr ObjectKind kCopyOrder[] = {
    ObjectKind::kKeySlot,  ObjectKind::kPack,       ObjectKind::kWal,      ObjectKind::kPgInfo,
    ObjectKind::kIndex,    ObjectKind::kMark,       ObjectKind::kManifest, ObjectKind::kHold,
    ObjectKind::kDeletion, ObjectKind::kRestoreTest};

Listing as_listing(const std::vector<repo::ObjectRef>& objects) {
  Listing out;
  for (const auto& o : objects) out.emplace(o.key, o);
  return out;
}

// The run's duration and end, for the lag's age.
ReplicateResult& finished(ReplicateResult& r, double started) {
  r.seconds = monotonic_seconds() - started;
  r.finished_ns = now_ns();
  return r;
}

// The target is empty (it becomes a replica) or already a replica of this repository; returns
// true when it becomes one.
bool check_target(repo::Repository& source, storage::Storage& target) {
  auto id = repo::stored_repository_id(target);
  if (id && *id != source.config().id)
    throw Error(Errc::kUsage, target.describe() + " holds another repository (" + *id +
                                  "), not a replica of " + source.config().id);
  return !id;
}

// A new replica's location holds nothing but objects of the source (a first run that was
// interrupted); anything else is not ours to write into.
void check_new_replica_location(storage::Storage& target,
                                const std::map<ObjectKind, Listing>& have_src) {
  target.list("", [&](const storage::ObjectInfo& o) {
    if (repo::is_staging_object(o.key)) return;
    if (auto k = repo::object_kind_of(o.key)) {
      auto listing = have_src.find(*k);
      if (listing != have_src.end() && listing->second.count(o.key)) return;
    }
    throw Error(Errc::kUsage, target.describe() + " holds " + o.key +
                                  ", which is not part of the source repository; refusing to "
                                  "write into it (give an empty location or a replica)");
  });
}

// The objects of one kind that the target lacks (counted into `r`); a present object with another
// size is a damaged replica.
std::vector<repo::ObjectRef> missing_of_kind(repo::Repository& source, storage::Storage& target,
                                             ObjectKind kind, const Listing& src,
                                             const Listing& dst, ReplicateResult& r) {
  std::vector<repo::ObjectRef> missing;
  for (const auto& [key, object] : src) {
    ++r.source_objects;
    if (auto it = dst.find(key); it != dst.end()) {
      // Key slots are rewritten by key rotation and upgrade: a different one is copied again.
      bool rewritten = kind == ObjectKind::kKeySlot && !source.same_object_in(object, target);
      if (!rewritten && it->second.size != object.size)
        throw Error(Errc::kCorrupt, target.describe() + ": " + key + " has " +
                                        std::to_string(it->second.size) + " bytes, the source " +
                                        std::to_string(object.size) +
                                        " (damaged replica: verify it, remove the object and "
                                        "replicate again)");
      if (!rewritten) {
        ++r.present_objects;
        continue;
      }
    }
    missing.push_back(object);
    ++r.missing_objects;
    r.missing_bytes += object.size;
    if (kind != ObjectKind::kManifest) continue;
    try {
      auto m = source.load_manifest(object.name());
      r.newest_missing_backup_ns = std::max(r.newest_missing_backup_ns, m.end_time_ns);
    } catch (const Error&) {
      // Damaged: copy_object_to() reports it.
    }
  }
  return missing;
}

// Copies the phases in order, two transfers at a time (packs are up to tens of MiB each: this
// bounds memory); a phase completes before the objects that refer to it are copied.
void copy_phases(repo::Repository& source, storage::Storage& target,
                 const std::vector<std::vector<repo::ObjectRef>>& phases, ReplicateResult& r,
                 const OpContext& ctx) {
  std::mutex mu;
  auto copy = [&](const repo::ObjectRef& object) {
    ctx.check_cancelled("replicate");
    uint64_t bytes = source.copy_object_to(object, target);  // authenticated on the way
    std::lock_guard g(mu);
    ++r.copied_objects;
    r.copied_bytes += bytes;
    if (Counters* c = ctx.progress) {
      c->bytes += bytes;
      ++c->files;
    }
  };
  for (const auto& phase : phases) {
    WorkerPool pool(2, 2);
    for (const auto& object : phase) pool.submit([&, object] { copy(object); });
    pool.wait();
  }
}

}  // namespace

nlohmann::json ReplicateResult::to_json() const {
  nlohmann::json j = {{"source", source},
                      {"target", target},
                      {"created", created},
                      {"source_objects", source_objects},
                      {"lag", {{"objects", missing_objects}, {"bytes", missing_bytes}}},
                      {"copied_objects", copied_objects},
                      {"copied_bytes", copied_bytes},
                      {"seconds", seconds}};
  if (newest_missing_backup_ns) {
    j["lag"]["newest_unreplicated_backup"] = format_rfc3339(newest_missing_backup_ns);
    j["lag"]["newest_unreplicated_backup_age_seconds"] = newest_missing_backup_age_seconds();
  }
  return j;
}

ReplicateResult replicate(repo::Repository& source, storage::Storage& target,
                          const ReplicateOptions& options, const OpContext& ctx) {
  const double started = monotonic_seconds();
  ReplicateResult result;
  result.source = source.describe();
  result.target = target.describe();
  if (!options.dry_run) target.create_if_missing();
  result.created = check_target(source, target);

  std::map<ObjectKind, Listing> have_src, have_dst;
  for (ObjectKind k : kListOrder) have_src[k] = as_listing(source.list_objects(k));
  for (ObjectKind k : kListOrder) have_dst[k] = as_listing(repo::list_objects(target, k));
  if (result.created) check_new_replica_location(target, have_src);

  std::vector<std::vector<repo::ObjectRef>> phases;
  for (ObjectKind k : kCopyOrder)
    phases.push_back(missing_of_kind(source, target, k, have_src[k], have_dst[k], result));
  auto config = source.list_objects(ObjectKind::kConfig);
  if (result.created) {
    ++result.missing_objects;  // config
    for (const auto& c : config) result.missing_bytes += c.size;
  }
  if (options.dry_run) return finished(result, started);
  if (Counters* c = ctx.progress) {
    c->total_bytes = result.missing_bytes;
    c->total_files = result.missing_objects;
    c->total_known = true;
  }
  copy_phases(source, target, phases, result, ctx);
  if (result.created) {  // config last: the replica becomes visible
    for (const auto& c : config) {
      result.copied_bytes += source.copy_object_to(c, target);
      ++result.copied_objects;
    }
  }
  return finished(result, started);
}

}  // namespace sr::ops

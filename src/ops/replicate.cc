#include "ops/replicate.h"

#include <map>
#include <mutex>
#include <nlohmann/json.hpp>

#include "base/time_util.h"
#include "base/worker_pool.h"
#include "repo/envelope.h"
#include "repo/pack.h"
#include "repo/wal_store.h"

namespace sr::ops {

namespace {

using Listing = std::map<std::string, uint64_t>;  // key -> size

Listing list_prefix(storage::Storage& s, const std::string& prefix) {
  Listing out;
  s.list(prefix, [&](const storage::ObjectInfo& o) {
    // Incomplete uploads and staging files are never part of a repository.
    auto slash = o.key.rfind('/');
    std::string base = slash == std::string::npos ? o.key : o.key.substr(slash + 1);
    if (base.rfind(".tmp-", 0) == 0) return;
    out[o.key] = o.size;
  });
  return out;
}

// Authenticates one object of the source before it is copied; throws kCorrupt naming it.
void authenticate(const repo::KeySet& keys, const std::string& key, ByteSpan bytes) {
  if (key.rfind("data/", 0) == 0) {
    std::string name = key.substr(key.rfind('/') + 1);
    repo::PackInfo info = repo::parse_pack(keys.data_key, name, bytes);
    codec::Key32 pack_key = repo::unwrap_pack_key(keys.data_key, name, info.wrapped_key);
    std::string what = "pack " + name;
    for (const auto& b : info.blobs) {
      if (b.offset > bytes.size() || b.length > bytes.size() - b.offset)
        throw Error(Errc::kCorrupt, what + " lists a blob beyond its end");
      codec::open(pack_key, bytes.subspan(b.offset, b.length),
                  repo::blob_aad(b.id, b.type, b.flags), what.c_str());
    }
  } else if (key.rfind("index/", 0) == 0) {
    repo::open_envelope(keys.meta_key, repo::EnvelopeKind::kIndex, key, bytes);
  } else if (key.rfind("manifests/", 0) == 0) {
    repo::open_envelope(keys.meta_key, repo::EnvelopeKind::kManifest, key, bytes);
  } else if (key.rfind("marks/", 0) == 0) {
    repo::open_envelope(keys.meta_key, repo::EnvelopeKind::kMark, key, bytes);
  } else if (key.rfind("pg/", 0) == 0) {
    repo::open_envelope(keys.meta_key, repo::EnvelopeKind::kPgInfo, key, bytes);
  } else if (key.rfind("wal/", 0) == 0) {
    repo::open_wal_object(keys, key, bytes);
  } else if (key.rfind("keys/", 0) == 0) {
    // Sealed under a password we may not know: check that it is a key slot at all.
    auto j = nlohmann::json::parse(as_chars(bytes), nullptr, false);
    if (!j.is_object() || !j.contains("sealed"))
      throw Error(Errc::kCorrupt, key + " is not a key slot");
  }
}

std::string config_id(ByteSpan raw, const std::string& where) {
  auto j = nlohmann::json::parse(as_chars(raw), nullptr, false);
  if (!j.is_object() || !j.contains("id") || !j["id"].is_string())
    throw Error(Errc::kCorrupt, where + ": config is not a strongroom config");
  return j["id"].get<std::string>();
}

// The run's duration and end, for the lag's age.
ReplicateResult& finished(ReplicateResult& r, double started) {
  r.seconds = monotonic_seconds() - started;
  r.finished_ns = now_ns();
  return r;
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
  storage::Storage& src = source.storage();
  const repo::KeySet& keys = source.keys();
  ReplicateResult result;
  result.source = src.describe();
  result.target = target.describe();

  // The target is empty (it becomes a replica) or already a replica of this repository.
  if (!options.dry_run) target.create_if_missing();
  auto target_config = storage::get_if_exists(target, "config");
  if (target_config) {
    std::string id = config_id(*target_config, target.describe());
    if (id != source.config().id)
      throw Error(Errc::kUsage, target.describe() + " holds another repository (" + id +
                                    "), not a replica of " + source.config().id);
  } else {
    result.created = true;
  }

  // List in the reverse of the writers' order (see the header), then the target.
  static const char* const kListOrder[] = {"manifests/", "marks/", "index/", "pg/",
                                           "data/",      "wal/",   "keys/"};
  std::map<std::string, Listing> have_src, have_dst;
  for (const char* p : kListOrder) have_src[p] = list_prefix(src, p);
  for (const char* p : kListOrder) have_dst[p] = list_prefix(target, p);
  if (result.created) {
    // No config yet: an empty location, or a replica whose first run was interrupted (every
    // object there is one of the source's). Anything else is not ours to write into.
    target.list("", [&](const storage::ObjectInfo& o) {
      if (o.key.rfind("tmp/", 0) == 0) return;
      for (const char* p : kListOrder)
        if (o.key.rfind(p, 0) == 0 && have_src[p].count(o.key)) return;
      throw Error(Errc::kUsage, target.describe() + " holds " + o.key +
                                    ", which is not part of the source repository; refusing to "
                                    "write into it (give an empty location or a replica)");
    });
  }

  // What is missing, grouped in copy order.
  static const char* const kCopyOrder[] = {"keys/",  "data/",  "wal/",      "pg/",
                                           "index/", "marks/", "manifests/"};
  std::vector<std::vector<std::pair<std::string, uint64_t>>> phases;
  for (const char* p : kCopyOrder) {
    phases.emplace_back();
    for (const auto& [key, size] : have_src[p]) {
      ++result.source_objects;
      auto it = have_dst[p].find(key);
      if (it != have_dst[p].end()) {
        if (it->second != size)
          throw Error(Errc::kCorrupt, target.describe() + ": " + key + " has " +
                                          std::to_string(it->second) + " bytes, the source " +
                                          std::to_string(size) +
                                          " (damaged replica: verify it, remove the object and "
                                          "replicate again)");
        ++result.present_objects;
        continue;
      }
      phases.back().emplace_back(key, size);
      ++result.missing_objects;
      result.missing_bytes += size;
      if (std::string(p) == "manifests/") {
        try {
          auto m = source.load_manifest(key.substr(key.rfind('/') + 1));
          result.newest_missing_backup_ns =
              std::max(result.newest_missing_backup_ns, m.end_time_ns);
        } catch (const Error&) {
          // Damaged: authenticate() below reports it.
        }
      }
    }
  }
  if (result.created) {
    ++result.missing_objects;  // config
    if (auto config = src.stat("config")) result.missing_bytes += config->size;
  }
  if (options.dry_run) return finished(result, started);
  if (Counters* c = ctx.progress) {
    c->total_bytes = result.missing_bytes;
    c->total_files = result.missing_objects;
    c->total_known = true;
  }

  std::mutex mu;
  auto copy = [&](const std::string& key) {
    ctx.check_cancelled("replicate");
    Bytes bytes = src.get(key);
    authenticate(keys, key, bytes);
    try {
      target.put(key, bytes, true);
    } catch (const Error& e) {
      if (e.code() != Errc::kAlreadyExists) throw;  // a concurrent replicate copied it
    }
    std::lock_guard g(mu);
    ++result.copied_objects;
    result.copied_bytes += bytes.size();
    if (ctx.progress) {
      ctx.progress->bytes += bytes.size();
      ++ctx.progress->files;
    }
  };
  for (const auto& phase : phases) {
    // Packs are up to tens of MiB each: two transfers at a time bound memory.
    WorkerPool pool(2, 2);
    for (const auto& [key, size] : phase) pool.submit([&, key = key] { copy(key); });
    pool.wait();  // a phase completes before the objects that refer to it are copied
  }
  if (result.created) {
    Bytes config = src.get("config");
    target.put("config", config, true);
    ++result.copied_objects;
    result.copied_bytes += config.size();
  }
  return finished(result, started);
}

}  // namespace sr::ops

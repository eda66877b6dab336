// ops/prune.cc is one file of ~470 lines on purpose: prune is one algorithm in four steps (mark,
// grace, repack, sweep; ops/prune.h) whose order is its safety, and it reads best top to bottom.
#include "ops/prune.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <map>
#include <set>
#include <thread>

#include "base/lsn.h"
#include "base/time_util.h"
#include "base/worker_pool.h"
#include "ops/lock_wait.h"
#include "ops/pg_catalog.h"
#include "ops/references.h"
#include "repo/chunk_set.h"
#include "repo/lock.h"
#include "repo/wal_store.h"

namespace sr::ops {
namespace {

constexpr int64_t kNs = 1'000'000'000;
constexpr int64_t kStagingMinAge = 15 * 60;  // seconds: WAL pushes take no lock
constexpr size_t kPacksPerIndexObject = 256;

struct Candidate {
  uint64_t size = 0;
  bool dead = false;  // no live chunk (or in no index)
  bool indexed = false;
};

// Adds every chunk the manifest references to `live`. A referenced chunk that no index lists
// stops the prune: its pack may be one an unreadable index object names (which would otherwise
// look like a leftover); `verify` and `repair index` come first.
void mark(repo::Repository& repo, const repo::Manifest& m, repo::ChunkSet& live, uint64_t& count) {
  auto add = [&](const codec::ChunkId& id, const std::string& where) {
    if (!live.insert(id)) return;
    ++count;
    if (!repo.lookup(id))
      throw Error(Errc::kCorrupt, "backup " + m.id + ": " + where + " references chunk " +
                                      to_hex(id) +
                                      ", which no index lists; prune stops before "
                                      "deleting anything (run `strongroom verify`, then "
                                      "`strongroom repair index`)");
  };
  visit_tree_chunks(m, add);
  visit_file_chunks(repo, m, add);
}

void refuse_damaged_index(repo::Repository& repo) {
  const auto& damaged = repo.damaged_index_objects();
  if (damaged.empty()) return;
  throw Error(Errc::kCorrupt,
              std::to_string(damaged.size()) +
                  " index object(s) cannot be read (first: " + damaged.front() +
                  "): the packs they list would look unreferenced, so prune "
                  "deletes nothing; run `strongroom verify`, then `strongroom repair index`");
}

struct LiveBlob {
  codec::ChunkId id;
  repo::ChunkLocation loc;
};

// Repacks the live blobs of one pack: neighbouring blobs are read with one request (runs of at
// most kRepackReadBytes, so memory stays bounded), and each is copied into a new pack without
// being decompressed (Repository::copy_blob authenticates it with its old pack's key).
constexpr uint64_t kRepackReadBytes = 4ull << 20;
void copy_live_blobs(repo::Repository& repo, const OpContext& ctx, std::vector<LiveBlob> blobs,
                     repo::WriteStats& stats) {
  std::sort(blobs.begin(), blobs.end(),
            [](const LiveBlob& a, const LiveBlob& b) { return a.loc.offset < b.loc.offset; });
  size_t i = 0;
  while (i < blobs.size()) {
    ctx.check_cancelled();
    const uint64_t start = blobs[i].loc.offset;
    uint64_t end = start + blobs[i].loc.length;
    size_t j = i + 1;
    while (j < blobs.size() && blobs[j].loc.offset >= end &&
           blobs[j].loc.offset + blobs[j].loc.length - start <= kRepackReadBytes) {
      end = blobs[j].loc.offset + blobs[j].loc.length;
      ++j;
    }
    Bytes run = repo.read_pack_range(blobs[i].loc.pack, start, end - start);
    for (; i < j; ++i) {
      const auto& b = blobs[i];
      repo.copy_blob(b.id, b.loc, ByteSpan(run).subspan(b.loc.offset - start, b.loc.length),
                     &stats);
    }
  }
}

// Test hook (PruneOptions::crash_at): the process dies here, as with kill -9.
void crash_point(const PruneOptions& o, int step) {
  if (o.crash_at == step) ::raise(SIGKILL);
}

// Deletes through `remove`; a store that refuses (object lock, immutability policy: kAuth or
// kPermanent) is reported and the object left for a later run. Returns whether it was deleted.
template <typename F>
bool try_delete(const std::string& what, F&& remove, PruneResult& r, const OpContext& ctx) {
  try {
    remove();
    return true;
  } catch (const Error& e) {
    if (e.code() != Errc::kAuth && e.code() != Errc::kPermanent) throw;
    ++r.refused_deletes;
    ctx.log().warn("prune", "the store refused to delete " + what + " (" + e.what() +
                                "); left for a later run (object lock or immutability policy?)");
    return false;
  }
}

// PostgreSQL restores start at a backup's start segment: WAL below the oldest backup of a stanza
// (on any timeline) serves none. Stanzas without a backup keep all their WAL.
std::map<std::string, uint64_t> wal_floors(const std::vector<repo::Manifest>& manifests,
                                           std::map<std::string, uint64_t>& segment_sizes) {
  std::map<std::string, uint64_t> floors;
  std::set<std::string> unknown;  // a stanza with a backup whose start cannot be read
  for (const auto& m : manifests) {
    if (m.type != "postgres") continue;
    catalog::BackupRecord r = backup_record(m);  // validates the pg record (kCorrupt)
    if (!r.pg) continue;
    auto seg = pg::parse_segment_name(r.pg->start_wal, r.pg->segment_size);
    if (!seg) {
      unknown.insert(r.pg->stanza);
      continue;
    }
    segment_sizes[r.pg->stanza] = r.pg->segment_size;
    auto it = floors.find(r.pg->stanza);
    if (it == floors.end() || seg->segno < it->second) floors[r.pg->stanza] = seg->segno;
  }
  for (const auto& s : unknown) floors.erase(s);
  return floors;
}

// The segment number a WAL file name belongs to (segments, .partial, .backup, increments);
// nullopt for history files and anything else (never removed).
std::optional<uint64_t> segno_of(const std::string& name, uint64_t segment_size) {
  if (name.size() < 24) return std::nullopt;
  auto seg = pg::parse_segment_name(name.substr(0, 24), segment_size);
  if (!seg) return std::nullopt;
  return seg->segno;
}

}  // namespace

uint64_t PruneResult::freed_bytes() const {
  uint64_t freed = removed_pack_bytes + wal_bytes + staging_bytes;
  return freed > repack_written_bytes ? freed - repack_written_bytes : 0;
}

nlohmann::json PruneResult::to_json() const {
  return {{"dry_run", dry_run},
          {"backups", backups},
          {"packs", packs},
          {"pack_bytes", pack_bytes},
          {"live_chunks", live_chunks},
          {"live_bytes", live_bytes},
          {"dead_packs", dead_packs},
          {"dead_bytes", dead_bytes},
          {"sparse_packs", sparse_packs},
          {"sparse_bytes", sparse_bytes},
          {"waiting_packs", waiting_packs},
          {"waiting_bytes", waiting_bytes},
          {"removed_packs", removed_packs},
          {"removed_pack_bytes", removed_pack_bytes},
          {"repacked_packs", repacked_packs},
          {"repack_written_bytes", repack_written_bytes},
          {"kept_after_recheck", kept_after_recheck},
          {"index_objects_removed", index_objects_removed},
          {"index_objects_written", index_objects_written},
          {"wal_removed", wal_removed},
          {"wal_bytes", wal_bytes},
          {"wal_floors", wal_floors},
          {"staging_removed", staging_removed},
          {"staging_bytes", staging_bytes},
          {"staging_waiting", staging_waiting},
          {"stale_locks_removed", stale_locks_removed},
          {"refused_deletes", refused_deletes},
          {"freed_bytes", freed_bytes()},
          {"deletion_record", deletion_record},
          {"plan", plan}};
}

PruneResult prune(repo::Repository& repo, const PruneOptions& o, const OpContext& ctx) {
  PruneResult r;
  r.dry_run = o.dry_run;
  const int64_t now = o.now_ns ? o.now_ns : now_ns();
  const int64_t grace_ns = o.grace_seconds * kNs;
  const int64_t staging_age_ns =
      (o.grace_seconds == 0 ? 60 : std::max<int64_t>(o.grace_seconds, kStagingMinAge)) * kNs;

  // --- 1. Mark, under a shared lock (backups and other readers go on).
  std::unique_ptr<repo::RepoLock> lock;
  if (!o.dry_run) lock = repo::RepoLock::acquire(repo, "prune", false, &ctx.log());
  repo.load_index();
  refuse_damaged_index(repo);
  std::vector<repo::Manifest> manifests = repo.list_manifests();  // kCorrupt: stop, delete nothing
  r.backups = manifests.size();
  repo::ChunkSet live;
  std::set<std::string> marked;
  for (const auto& m : manifests) {
    ctx.check_cancelled();
    mark(repo, m, live, r.live_chunks);
    marked.insert(m.id);
  }

  std::map<std::string, uint64_t> present;
  for (const auto& p : repo.list_objects(repo::ObjectKind::kPack)) present[p.name()] = p.size;
  std::map<std::string, Candidate> candidates;
  std::set<std::string> indexed;
  repo.index().for_each_pack([&](const std::string& name, uint64_t size) {
    indexed.insert(name);
    auto it = present.find(name);
    if (it == present.end()) return;  // missing: verify reports it; nothing to delete
    ctx.check_cancelled();
    uint64_t live_bytes = 0;
    bool any_live = false;
    repo.index().for_each_chunk_in_pack(
        name, [&](const codec::ChunkId& id, const repo::ChunkLocation& loc) {
          if (live.contains(id)) {
            any_live = true;
            live_bytes += loc.length;
          }
        });
    uint64_t stored = it->second ? it->second : size;
    r.live_bytes += live_bytes;
    if (!any_live) {
      candidates[name] = {stored, true, true};
    } else if (stored > 0 && static_cast<double>(stored - std::min(stored, live_bytes)) /
                                     static_cast<double>(stored) >
                                 o.max_unused) {
      candidates[name] = {stored, false, true};
    }
  });
  for (const auto& [name, size] : present) {
    r.packs++;
    r.pack_bytes += size;
    if (!indexed.count(name)) candidates[name] = {size, true, false};  // leftovers
  }
  for (const auto& [name, c] : candidates) {
    (c.dead ? r.dead_packs : r.sparse_packs)++;
    (c.dead ? r.dead_bytes : r.sparse_bytes) += c.size;
  }

  // --- 2. Grace: act only on what a run at least `grace` ago found unreferenced too.
  auto plans = repo.list_prune_plans();
  std::map<std::string, int64_t> first_seen, staging_seen;
  for (const auto& [name, plan] : plans) {
    for (const char* field : {"packs", "staging"}) {
      auto& into = std::string(field) == "packs" ? first_seen : staging_seen;
      if (!plan.contains(field) || !plan[field].is_object()) continue;
      for (const auto& [key, t] : plan[field].items()) {
        if (!t.is_number_integer()) continue;
        int64_t v = t.get<int64_t>();
        auto it = into.find(key);
        if (it == into.end() || v < it->second) into[key] = v;
      }
    }
  }
  auto seen_since = [&](const std::map<std::string, int64_t>& seen, const std::string& key) {
    auto it = seen.find(key);
    return it == seen.end() ? now : it->second;
  };
  std::map<std::string, Candidate> eligible;
  nlohmann::json next_packs = nlohmann::json::object(), next_staging = nlohmann::json::object();
  for (const auto& [name, c] : candidates) {
    int64_t since = seen_since(first_seen, name);
    if (o.grace_seconds == 0 || since <= now - grace_ns) {
      eligible[name] = c;
    } else {
      ++r.waiting_packs;
      r.waiting_bytes += c.size;
      next_packs[name] = since;
    }
  }
  std::vector<storage::ObjectInfo> staging_eligible;
  for (const auto& s : repo.list_staging()) {
    int64_t since = seen_since(staging_seen, s.key);
    if (s.mtime_ns) since = std::min(since, s.mtime_ns);
    if (since <= now - staging_age_ns) {
      staging_eligible.push_back(s);
    } else {
      ++r.staging_waiting;
      next_staging[s.key] = since;
    }
  }

  if (o.dry_run) {
    for (const auto& [name, c] : eligible)
      if (c.dead) {
        ++r.removed_packs;
        r.removed_pack_bytes += c.size;
      } else {
        ++r.repacked_packs;
      }
    return r;
  }

  // --- 3. Repack the live chunks of eligible sparse packs (still under the shared lock).
  std::set<std::string> to_remove;
  repo::WriteStats stats;
  {
    WorkerPool pool(WorkerPool::default_threads(), 2);
    for (const auto& [name, c] : eligible) {
      ctx.check_cancelled();
      to_remove.insert(name);
      if (c.dead) continue;
      std::vector<LiveBlob> blobs;
      repo.index().for_each_chunk_in_pack(
          name, [&](const codec::ChunkId& id, const repo::ChunkLocation& loc) {
            if (live.contains(id)) blobs.push_back({id, loc});
          });
      ++r.repacked_packs;
      pool.submit([&repo, &ctx, &stats, blobs = std::move(blobs)]() mutable {
        copy_live_blobs(repo, ctx, std::move(blobs), stats);
      });
    }
    pool.wait();
  }
  r.repack_written_bytes += stats.added_bytes;
  repo.flush();  // the new packs and their index objects, before anything is removed
  lock.reset();

  // --- 4. Sweep under the exclusive lock.
  lock = acquire_waiting(repo, "prune", true, o.lock_wait_seconds, ctx);
  repo.load_index();
  refuse_damaged_index(repo);
  std::vector<repo::Manifest> now_manifests = repo.list_manifests();
  for (const auto& m : now_manifests)
    if (!marked.count(m.id)) {
      ctx.check_cancelled();
      mark(repo, m, live, r.live_chunks);  // a backup that finished since the mark
    }
  // A pack is removed only if each live chunk in it has a copy in a pack that stays.
  // (Also the packs no index listed at the mark: a backup that finished since may index them.)
  {
    std::set<std::string> gone(to_remove);
    gone.insert(repo.missing_packs().begin(), repo.missing_packs().end());  // really absent
    repo.index().set_missing_packs(gone);
  }
  for (auto it = to_remove.begin(); it != to_remove.end();) {
    bool needed = false;
    repo.index().for_each_chunk_in_pack(*it,
                                        [&](const codec::ChunkId& id, const repo::ChunkLocation&) {
                                          if (needed || !live.contains(id)) return;
                                          bool gone = false;
                                          auto loc = repo.index().lookup(id, &gone);
                                          if (!loc || gone) needed = true;
                                        });
    if (needed) {
      ++r.kept_after_recheck;
      ctx.log().info("prune", "pack " + *it + " is referenced by a backup made meanwhile: kept");
      it = to_remove.erase(it);
    } else {
      ++it;
    }
  }

  if (!to_remove.empty()) {
    // The index without the removed packs: every remaining indexed pack, with its entries.
    std::vector<std::string> old_index;
    for (const auto& obj : repo.list_objects(repo::ObjectKind::kIndex))
      old_index.push_back(obj.name());
    std::vector<repo::PackInfo> batch;
    auto write_batch = [&] {
      if (batch.empty()) return;
      repo.write_index_object(batch);
      ++r.index_objects_written;
      batch.clear();
    };
    std::vector<std::pair<std::string, uint64_t>> keep_packs;
    repo.index().for_each_pack([&](const std::string& name, uint64_t size) {
      if (!to_remove.count(name)) keep_packs.emplace_back(name, size);
    });
    for (const auto& [name, size] : keep_packs) {
      ctx.check_cancelled();
      repo::PackInfo info;
      info.name = name;
      info.size = size;
      auto key = repo.index().pack_wrapped_key(name);
      if (!key) throw Error(Errc::kInternal, "the index cache lacks pack " + name + "'s key");
      info.wrapped_key = *key;
      repo.index().for_each_chunk_in_pack(
          name, [&](const codec::ChunkId& id, const repo::ChunkLocation& loc) {
            info.blobs.push_back({id, loc.type, loc.flags, loc.offset, loc.length, loc.raw_length});
          });
      batch.push_back(std::move(info));
      if (batch.size() >= kPacksPerIndexObject) write_batch();
    }
    write_batch();
    crash_point(o, 1);  // new index written, nothing removed
    // The deletion record once the new index exists (a record is a promise to every client that
    // the disappearance of these objects is ours).
    r.deletion_record = repo.record_deletion("prune", {}, old_index);
    crash_point(o, 2);
    bool index_replaced = true;
    for (const auto& name : old_index) {
      if (try_delete(
              "index object " + name, [&] { repo.remove_index_object(name); }, r, ctx))
        ++r.index_objects_removed;
      else
        index_replaced = false;
      if (r.index_objects_removed == 1) crash_point(o, 3);  // some old index objects gone
    }
    // An old index object that stays may list the packs: they stay too (a later run).
    if (!index_replaced) to_remove.clear();
    for (const auto& name : to_remove) {
      ctx.check_cancelled();
      if (try_delete(
              "pack " + name, [&] { repo.remove_pack(name); }, r, ctx)) {
        ++r.removed_packs;
        r.removed_pack_bytes += present.count(name) ? present[name] : 0;
        if (r.removed_packs == 1) crash_point(o, 4);  // some packs gone
      }
    }
  }

  // WAL below each stanza's oldest backup.
  std::map<std::string, uint64_t> segment_sizes;
  for (const auto& [stanza, stanza_floor] : wal_floors(now_manifests, segment_sizes)) {
    const uint64_t floor = stanza_floor;  // (a lambda cannot capture a structured binding)
    uint64_t seg_size = segment_sizes[stanza];
    r.wal_floors.push_back(stanza + ": " + pg::SegmentName{1, floor}.str(seg_size).substr(8));
    repo::WalStore store(repo, stanza);
    std::vector<std::string> below;
    store.list([&](const std::string& name) {
      auto s = segno_of(name, seg_size);
      if (s && *s < floor) below.push_back(name);
    });
    std::vector<std::string> streamed;
    store.list_streamed([&](const std::string& seg) {
      auto s = segno_of(seg, seg_size);
      if (s && *s < floor) streamed.push_back(seg);
    });
    for (const auto& name : below) {
      ctx.check_cancelled();
      if (try_delete(
              "WAL " + name, [&] { store.remove(name); }, r, ctx))
        ++r.wal_removed;
      if (r.wal_removed == 1) crash_point(o, 5);
    }
    for (const auto& seg : streamed)
      try_delete(
          "WAL increments of " + seg, [&] { store.remove_increments(seg); }, r, ctx);
  }

  for (const auto& s : staging_eligible) {
    if (try_delete(
            s.key, [&] { repo.remove_staging(s.key); }, r, ctx)) {
      ++r.staging_removed;
      r.staging_bytes += s.size;
    }
  }
  r.stale_locks_removed = repo::RepoLock::remove_stale(repo);
  crash_point(o, 6);

  // The next plan: what waits for its grace, with the time it was first found.
  if (!next_packs.empty() || !next_staging.empty())
    r.plan = repo.save_prune_plan(
        {{"version", 1}, {"time_ns", now}, {"packs", next_packs}, {"staging", next_staging}});
  for (const auto& [name, plan] : plans) repo.remove_prune_plan(name);
  return r;
}

}  // namespace sr::ops

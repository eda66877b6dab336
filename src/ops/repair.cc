#include "ops/repair.h"

#include "repo/lock.h"

namespace sr::ops {

namespace {
constexpr size_t kPacksPerIndex = 8;  // as the repository writes them
constexpr size_t kBlobsPerIndex = 50000;
constexpr size_t kMaxNamed = 100;

std::string first_names(const std::vector<std::string>& names, size_t n) {
  std::string out;
  for (size_t i = 0; i < names.size() && i < n; ++i) out += (i ? ", " : "") + names[i];
  if (names.size() > n) out += " and " + std::to_string(names.size() - n) + " more";
  return out;
}
}  // namespace

nlohmann::json RepairIndexReport::to_json() const {
  return {{"packs", packs},
          {"blobs", blobs},
          {"index_objects_written", index_objects_written},
          {"index_objects_removed", index_objects_removed},
          {"damaged_packs", damaged_packs},
          {"missing_packs", missing_packs},
          {"missing_pack_count", missing_pack_count}};
}

size_t warn_missing_packs(repo::Repository& repo, const OpContext& ctx) {
  const auto& missing = repo.missing_packs();
  if (!missing.empty())
    ctx.log().warn("backup", std::to_string(missing.size()) +
                                 " indexed pack(s) are missing from the repository (" +
                                 first_names(missing, 3) +
                                 "): their chunks are stored again; run `strongroom verify` and "
                                 "`strongroom repair index`");
  return missing.size();
}

RepairIndexReport repair_index(repo::Repository& repo, const OpContext& ctx) {
  RepairIndexReport report;
  auto lock = repo::RepoLock::acquire(repo, "repair index", true, &ctx.log());
  repo.load_index();
  std::vector<std::string> old_index;
  for (const auto& o : repo.list_objects(repo::ObjectKind::kIndex)) old_index.push_back(o.name());
  auto packs = repo.list_objects(repo::ObjectKind::kPack);
  for (const auto& m : repo.missing_packs()) {
    if (report.missing_packs.size() < kMaxNamed) report.missing_packs.push_back(m);
    ++report.missing_pack_count;
  }
  if (Counters* c = ctx.progress) {
    uint64_t total = 0;
    for (const auto& p : packs) total += p.size;
    c->total_bytes = total;
    c->total_files = packs.size();
    c->total_known = true;
  }
  std::vector<repo::PackInfo> batch;
  size_t batch_blobs = 0;
  auto publish = [&] {
    if (batch.empty()) return;
    repo.write_index_object(batch);
    ++report.index_objects_written;
    batch.clear();
    batch_blobs = 0;
  };
  for (const auto& p : packs) {
    ctx.check_cancelled("repair index");
    try {
      repo::PackInfo info = repo.read_pack_info(p.name());
      ++report.packs;
      report.blobs += info.blobs.size();
      batch_blobs += info.blobs.size();
      batch.push_back(std::move(info));
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt && e.code() != Errc::kNotFound) throw;
      report.damaged_packs.push_back(p.name() + ": " + e.what());
      ctx.log().warn("repair", std::string("pack ") + p.name() + " is left out: " + e.what());
    }
    if (ctx.progress) {
      ctx.progress->bytes += p.size;
      ++ctx.progress->files;
    }
    if (batch.size() >= kPacksPerIndex || batch_blobs >= kBlobsPerIndex) publish();
  }
  publish();
  // Every sound pack is now described by the new index objects: the old ones can go.
  for (const auto& name : old_index) {
    ctx.check_cancelled("repair index");
    repo.remove_index_object(name);
    ++report.index_objects_removed;
  }
  repo.load_index();  // the cache notices the removed objects and rebuilds from the new ones
  return report;
}

}  // namespace sr::ops

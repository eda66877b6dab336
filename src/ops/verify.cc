#include "ops/verify.h"

#include <map>
#include <mutex>
#include <set>

#include "base/worker_pool.h"
#include "ops/references.h"
#include "repo/chunk_set.h"
#include "repo/lock.h"
#include "repo/tree_stream.h"

namespace sr::ops {

namespace {
constexpr size_t kMaxProblemsPerBackup = 5;
constexpr size_t kMaxMissingPacksNamed = 10;

std::string missing_packs_problem(const VerifyReport& r) {
  std::string msg = std::to_string(r.missing_packs) + " indexed pack(s) are missing:";
  for (const auto& n : r.missing_pack_names) msg += " " + repo::pack_object_key(n);
  if (r.missing_packs > r.missing_pack_names.size())
    msg += " and " + std::to_string(r.missing_packs - r.missing_pack_names.size()) + " more";
  return msg + " (`strongroom repair index` rebuilds the index from the packs that remain)";
}

// The repository against this client's signed state: what went missing is a problem, unless
// the operator accepts the repository as it is now (--accept-state).
void check_state(repo::Repository& repo, const VerifyOptions& options, VerifyReport& report) {
  report.rollback = repo.state_diff();
  if (options.accept_state) {
    repo.accept_state();
    report.state_accepted = true;
    return;
  }
  for (const auto& m : report.rollback.messages())
    report.problems.push_back("the repository went backwards: " + m);
}

// Reads, authenticates and decompresses every chunk of every indexed pack that is present
// (`stored`: pack name → size) and not bad; damaged chunks become problems and go to `damaged`.
void read_all_data(repo::Repository& repo, const std::vector<std::string>& indexed,
                   const std::set<std::string>& bad_packs,
                   const std::map<std::string, uint64_t>& stored, const OpContext& ctx,
                   VerifyReport& report, repo::ChunkSet& damaged) {
  Counters* const counters = ctx.progress;
  if (counters) {
    uint64_t total = 0;
    for (const auto& name : indexed)
      if (!bad_packs.count(name)) total += stored.at(name);
    counters->total_bytes = total;
    counters->total_known = true;
  }
  std::mutex mu;
  const size_t threads = WorkerPool::default_threads();
  WorkerPool pool(threads, 2 * threads);
  for (const auto& name : indexed) {
    if (bad_packs.count(name)) continue;
    ctx.check_cancelled("verify");
    pool.submit([&, name] {
      std::vector<std::string> errors;
      std::vector<codec::ChunkId> bad;
      uint64_t n = 0, bytes = 0;
      repo.index().for_each_chunk_in_pack(
          name, [&](const codec::ChunkId& id, const repo::ChunkLocation& loc) {
            ctx.check_cancelled("verify");
            ++n;
            bytes += loc.length;
            try {
              repo.read_blob(id, loc, true);
            } catch (const Error& e) {
              if (e.code() != Errc::kCorrupt) throw;
              errors.push_back(e.what());
              bad.push_back(id);
            }
            if (counters) counters->bytes += loc.length;
          });
      std::lock_guard g(mu);
      report.chunks_checked += n;
      report.bytes_read += bytes;
      for (auto& e : errors) report.problems.push_back(e);
      for (auto& id : bad) damaged.insert(id);
    });
  }
  pool.wait();
}

bool in_subset(const std::string& pack, const VerifyOptions& o) {
  if (o.subset_n == 0) return true;
  uint32_t v = static_cast<uint32_t>(std::stoul(pack.substr(0, 8), nullptr, 16));
  return v % o.subset_n == o.subset_k - 1;
}

// Checks one backup: its manifest decrypts, its tree reads, and every chunk it references is
// indexed, in a pack that is present and sound, and (with `damaged`) not damaged.
void check_backup(repo::Repository& repo, const repo::Manifest& m,
                  const std::set<std::string>& bad_packs, repo::ChunkSet* damaged,
                  VerifyReport& report) {
  const std::string& id = m.id;
  size_t reported = 0, more = 0;
  auto problem = [&](const std::string& what) {
    report.damaged_backups.insert(id);
    if (reported++ < kMaxProblemsPerBackup)
      report.problems.push_back("backup " + id + ": " + what);
    else
      ++more;
  };
  auto check_chunk = [&](const codec::ChunkId& cid, const std::string& where) {
    auto loc = repo.lookup(cid);
    if (!loc)
      problem(where + " references chunk " + to_hex(cid) + ", which no index lists");
    else if (bad_packs.count(loc->pack))
      problem(where + " has data in pack " + loc->pack + ", which is missing or damaged");
    else if (damaged && damaged->contains(cid))
      problem(where + " has damaged chunk " + to_hex(cid) + " (pack " + loc->pack + ")");
  };
  try {
    visit_tree_chunks(m, check_chunk);
    if (!report.damaged_backups.count(id)) visit_file_chunks(repo, m, check_chunk);
  } catch (const Error& e) {
    if (e.code() != Errc::kCorrupt && e.code() != Errc::kNotFound) throw;
    problem(std::string("tree cannot be read: ") + e.what());
  }
  if (more)
    report.problems.push_back("backup " + id + ": and " + std::to_string(more) + " more problems");
}
}  // namespace

nlohmann::json VerifyReport::to_json() const {
  nlohmann::json src = nlohmann::json::array();
  for (const auto& s : sources) src.push_back(s.to_json());
  return {{"ok", ok()},
          {"sources", src},
          {"read_data_subset",
           subset_n ? nlohmann::json(std::to_string(subset_k) + "/" + std::to_string(subset_n))
                    : nlohmann::json(nullptr)},
          {"problems", problems},
          {"missing_packs", missing_packs},
          {"missing_pack_names", missing_pack_names},
          {"rollback", rollback.to_json()},
          {"state_accepted", state_accepted},
          {"damaged_backups", damaged_backups},
          {"backups", backups},
          {"packs", packs},
          {"index_objects", index_objects},
          {"unreferenced_packs", unreferenced_packs},
          {"chunks_checked", chunks_checked},
          {"bytes_read", bytes_read},
          {"read_data", read_data}};
}

VerifyReport verify(repo::Repository& repo, const VerifyOptions& options, const OpContext& ctx) {
  VerifyReport report;
  report.read_data = options.read_data;
  auto lock = repo::RepoLock::acquire_for_reading(repo, "verify", &ctx.log());
  repo.load_index(false);  // the packs are listed below, with their sizes
  for (const auto& name : repo.damaged_index_objects())
    report.problems.push_back("index object index/" + name +
                              " is damaged (failed authentication or parsing)");
  report.index_objects = repo.list_objects(repo::ObjectKind::kIndex).size();

  // Packs: present with the indexed size? (Missing ones are summed up in one problem.)
  std::map<std::string, uint64_t> stored;
  for (const auto& o : repo.list_objects(repo::ObjectKind::kPack)) stored[o.name()] = o.size;
  std::set<std::string> bad_packs;
  std::vector<std::string> indexed;
  repo.index().for_each_pack([&](const std::string& name, uint64_t size) {
    ++report.packs;
    indexed.push_back(name);
    auto it = stored.find(name);
    if (it == stored.end()) {
      ++report.missing_packs;
      if (report.missing_pack_names.size() < kMaxMissingPacksNamed)
        report.missing_pack_names.push_back(name);
      bad_packs.insert(name);
    } else if (it->second != size) {
      report.problems.push_back("pack " + name + " has " + std::to_string(it->second) +
                                " bytes, the index says " + std::to_string(size));
      bad_packs.insert(name);
    }
  });
  if (report.missing_packs) report.problems.push_back(missing_packs_problem(report));
  std::sort(indexed.begin(), indexed.end());
  for (const auto& [name, size] : stored)
    if (!std::binary_search(indexed.begin(), indexed.end(), name)) ++report.unreferenced_packs;

  // Data: read every chunk of every present pack.
  repo::ChunkSet damaged;
  if (options.read_data) {
    std::vector<std::string> slice;
    for (const auto& name : indexed)
      if (in_subset(name, options)) slice.push_back(name);
    report.subset_k = options.subset_k;
    report.subset_n = options.subset_n;
    read_all_data(repo, slice, bad_packs, stored, ctx, report, damaged);
  }
  // Backups: manifests, trees, references.
  repo::ManifestScan scan = repo.scan_manifests();
  report.backups = scan.readable.size() + scan.damaged.size();
  for (const auto& d : scan.damaged) {
    report.problems.push_back("backup " + d.id + ": " + d.error);
    report.damaged_backups.insert(d.id);
  }
  for (const auto& m : scan.readable) {
    ctx.check_cancelled("verify");
    check_backup(repo, m, bad_packs, options.read_data ? &damaged : nullptr, report);
  }
  check_state(repo, options, report);
  if (options.sources.config) {
    report.sources = check_sources(repo, options.sources, ctx);
    for (const auto& s : report.sources)
      report.problems.insert(report.problems.end(), s.problems.begin(), s.problems.end());
  }
  return report;
}

}  // namespace sr::ops

// bench/tools/gen_history.cc: writes a year of the runbook's backup schedule into a repository
// as real manifests (encrypted envelopes through Repository::save_manifest), quickly, for the
// daemon's benchmark (bench/bench_daemon.sh): the catalog the API and /metrics serve, ~9,000
// backups. The backups reference no data (an empty tree): they are catalog entries only, and the
// repository is for this benchmark, never for restores or prune.
//
//   gen_history --repo DIR --password-file FILE --config FILE [--days 365] [--now RFC3339]
//
// Every source of the configuration with schedules gets one backup per scheduled fire over the
// days before --now (postgres: its full and diff schedules, diffs parented to the day's full,
// LSNs and times increasing; files and command sources: one per fire), with sizes that grow and
// wander a little.
#include <cstdio>
#include <iostream>
#include <random>

#include "base/error.h"
#include "base/lsn.h"
#include "base/time_util.h"
#include "config/config.h"
#include "repo/repository.h"
#include "storage/local_storage.h"

namespace {

std::string arg(int argc, char** argv, const char* name, const char* fallback = nullptr) {
  for (int i = 1; i + 1 < argc; ++i)
    if (std::string(argv[i]) == name) return argv[i + 1];
  if (fallback) return fallback;
  std::cerr << "gen_history: " << name << " is required\n";
  std::exit(2);
}

std::string first_line(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) throw sr::Error(sr::Errc::kUsage, "cannot read " + path);
  char buf[4096] = {};
  if (!std::fgets(buf, sizeof buf, f)) buf[0] = 0;
  std::fclose(f);
  std::string s = buf;
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

int main(int argc, char** argv) try {
  using namespace sr;
  const std::string repo_dir = arg(argc, argv, "--repo");
  const auto cfg = config::load_config(arg(argc, argv, "--config"));
  const int days = std::stoi(arg(argc, argv, "--days", "365"));
  const int64_t now = parse_rfc3339(arg(argc, argv, "--now", format_rfc3339(now_ns()).c_str()));
  auto repo = repo::Repository::open(
      std::make_unique<storage::LocalStorage>(repo_dir),
      repo::Credential{first_line(arg(argc, argv, "--password-file")), false});
  std::mt19937_64 rng(42);
  std::normal_distribution<double> wander(1.0, 0.03);
  constexpr int64_t kNs = 1'000'000'000;
  const int64_t start_s = now / kNs - int64_t{days} * 86400;
  size_t written = 0;
  for (const auto& s : cfg.sources) {
    struct Fire {
      int64_t at;
      std::string type;
    };
    std::vector<Fire> fires;
    for (const auto& sc : s.schedules)
      for (int64_t t = sc.cron.next_after(start_s); t >= 0 && t < now / kNs;
           t = sc.cron.next_after(t))
        fires.push_back({t, sc.type});
    std::sort(fires.begin(), fires.end(), [](const Fire& a, const Fire& b) { return a.at < b.at; });
    std::string last_full;
    uint64_t lsn = 0x1000000000ull;
    double base = s.type == config::SourceType::kPostgres ? 1.5e9
                  : s.kind == "certificates"              ? 2e5
                                                          : 5e6;
    for (size_t i = 0; i < fires.size(); ++i) {
      const Fire& f = fires[i];
      repo::Manifest m;
      m.host = s.host.empty() ? "db-" + s.name : s.host;
      m.user = "strongroom";
      m.config_source = s.name;
      double grow = 1.0 + 0.3 * static_cast<double>(i) / static_cast<double>(fires.size());
      bool diff = f.type == "diff" || f.type == "incr";
      double size = base * grow * wander(rng) * (diff ? 0.06 : 1.0);
      double seconds = s.type == config::SourceType::kPostgres ? size / 300e6 + 2 : 1.5;
      m.time_ns = f.at * kNs + 2 * kNs;
      m.end_time_ns = m.time_ns + static_cast<int64_t>(seconds * 1e9);
      m.size = static_cast<uint64_t>(size);
      m.stored_size = m.size / 3;
      m.added_size = diff ? m.size / 3 : m.size / 30;
      m.file_count = s.type == config::SourceType::kPostgres ? 1300 : 40;
      if (s.type == config::SourceType::kPostgres) {
        m.type = "postgres";
        m.source = "postgres:" + s.stanza;
        pg::Lsn start{lsn}, stop{lsn + (16ull << 20)};
        lsn += 64ull << 20;
        m.extra["pg"] = {{"stanza", s.stanza},
                         {"backup_type", diff ? f.type : "full"},
                         {"system_identifier", "7311111111111111111"},
                         {"version", 150000},
                         {"segment_size", 16ull << 20},
                         {"data_directory", s.pg_data},
                         {"timeline", 1},
                         {"start_lsn", start.str()},
                         {"stop_lsn", stop.str()},
                         {"start_time_ns", m.time_ns},
                         {"stop_time_ns", m.end_time_ns}};
        if (diff && !last_full.empty()) m.parent = last_full;
        if (diff && last_full.empty()) continue;  // a diff needs its full
      } else if (s.type == config::SourceType::kCommand) {
        m.type = "command";
        m.name = s.output_name;
        m.command = s.command;
        m.source = "command:" + s.output_name;
      } else {
        m.type = "files";
        m.paths = s.paths;
        m.root = "/";
        m.source = s.paths.empty() ? "" : s.paths.front();
      }
      repo->save_manifest(m);
      if (s.type == config::SourceType::kPostgres && !diff) last_full = m.id;
      ++written;
    }
  }
  std::cout << "gen_history: " << written << " backups written\n";
  return 0;
} catch (const std::exception& e) {
  std::cerr << "gen_history: " << e.what() << "\n";
  return 1;
}

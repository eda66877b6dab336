// One operation and its private helpers (the scratch directory, query binding, the PostgreSQL
// and files checks): 470 lines read best in one place; the shared pieces live elsewhere
// (pg_restore, source_checks, sources).
#include "ops/restore_proof.h"

#include <fcntl.h>
#include <pwd.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <random>

#include "base/random.h"
#include "base/time_util.h"
#include "ops/pg_catalog.h"
#include "ops/pg_restore.h"
#include "ops/restore.h"
#include "ops/source_checks.h"
#include "ops/sources.h"
#include "pg/libpq_session.h"
#include "repo/tree_stream.h"

namespace sr::ops {
namespace {

// The scratch directory: created empty (root's, 0711 when root: the server's user may pass
// through, not change it), removed with everything in it unless kept. What the server's user
// owns (the data directory) is removed as that user (setpriv … rm -rf), so that nothing it could
// have planted there (a symlink swapped in mid-walk) makes root remove something else.
class Scratch {
 public:
  Scratch(const std::string& parent, bool keep) : keep_(keep) {
    std::string tmpl = parent + "/strongroom-restore-test-XXXXXX";
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    if (!::mkdtemp(buf.data())) throw_errno("cannot create a scratch directory in " + parent);
    path_ = buf.data();
    if (::geteuid() == 0) ::chmod(path_.c_str(), 0711);
  }
  ~Scratch() {
    if (keep_) return;
    if (uid_ >= 0) remove_as_owner(path_ + "/data");
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);  // never follows symlinks
  }
  void owned_by(int uid, int gid) { uid_ = uid, gid_ = gid; }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  const std::string& path() const { return path_; }

 private:
  void remove_as_owner(const std::string& dir) const {
    std::string reuid = "--reuid=" + std::to_string(uid_),
                regid = "--regid=" + std::to_string(gid_);
    const char* argv[] = {
        "/usr/bin/setpriv", reuid.c_str(), regid.c_str(), "--init-groups", "--",
        "/bin/rm",          "-rf",         "--",          dir.c_str(),     nullptr};
    const char* envp[] = {"PATH=/usr/bin:/bin", nullptr};
    // rm cannot unlink `dir` itself (root's scratch holds it): remove_all does that after; its
    // "Permission denied" for that one entry is expected, so rm's messages are dropped.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, argv[0], &actions, nullptr, const_cast<char* const*>(argv),
                           const_cast<char* const*>(envp));
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) return;
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  std::string path_;
  bool keep_;
  int uid_ = -1, gid_ = -1;
};

std::optional<double> as_number(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0' || !std::isfinite(v)) return std::nullopt;
  return v;
}

// ":target_time" becomes $1 (bound, never spliced); other text is left as written.
std::pair<std::string, bool> bind_target_time(const std::string& sql) {
  static const std::string kName = ":target_time";
  std::string out;
  bool used = false;
  for (size_t i = 0; i < sql.size();) {
    if (sql.compare(i, kName.size(), kName) == 0 &&
        (i + kName.size() == sql.size() ||
         !(std::isalnum(static_cast<unsigned char>(sql[i + kName.size()])) ||
           sql[i + kName.size()] == '_'))) {
      out += "$1::timestamptz";
      i += kName.size();
      used = true;
    } else {
      out += sql[i++];
    }
  }
  return {out, used};
}

std::string run_query(const std::string& conninfo, const std::string& query,
                      const std::string& target_time) {
  auto [sql, uses_time] = bind_target_time(query);
  auto session = pg::Session::connect(conninfo);
  std::vector<std::string> params;
  if (uses_time) params.push_back(target_time);
  return session->value(sql, params);
}

std::string quote_ident(const std::string& s) {
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

std::string quote_table(const std::string& qualified) {
  size_t dot = qualified.find('.');
  if (dot == std::string::npos) return quote_ident(qualified);
  return quote_ident(qualified.substr(0, dot)) + "." + quote_ident(qualified.substr(dot + 1));
}

std::string with_dbname(const std::string& conninfo, const std::string& db) {
  return db.empty() ? conninfo : conninfo + " dbname='" + db + "'";
}

std::string owner_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "postgres";
  struct passwd* pw = ::getpwuid(st.st_uid);
  return pw && pw->pw_uid != 0 ? pw->pw_name : "postgres";
}

void test_postgres(repo::Repository& repo, const RestoreTestOptions& o,
                   const config::SourceConfig& s, Scratch& scratch, RestoreTestResult& r,
                   double& validated_at, const OpContext& ctx) {
  PgRestoreOptions po;
  po.stanza = s.stanza;
  po.target_dir = scratch.path() + "/data";
  po.start = true;
  po.hand_over_server = true;
  // A scratch copy, removed after the test: nothing to make durable, neither the restored files
  // nor the server's writes (fsync=off also spares the data directory sync at start-up).
  po.durable = false;
  po.server_options = {"fsync=off"};
  po.repo_url = o.repo_url;
  po.password_file = o.password_file;
  po.key_file = o.key_file;
  po.self_exe = o.self_exe;
  po.ca_file = o.ca_file;
  if (!o.config_file.empty()) {
    po.config_file = o.config_file;
    po.config_repository = o.repository;
  }
  po.pg_bin = o.pg_bin;
  po.server_os_user = o.server_os_user.empty() ? owner_of(s.pg_data) : o.server_os_user;
  if (::geteuid() == 0) {
    struct passwd* pw = ::getpwnam(po.server_os_user.c_str());
    if (pw == nullptr || pw->pw_uid == 0)
      throw Error(Errc::kUsage, "cannot run the scratch server as '" + po.server_os_user + "'");
    scratch.owned_by(static_cast<int>(pw->pw_uid), static_cast<int>(pw->pw_gid));
  }
  // The target: given, random in the window, the backup's end, or the latest WAL.
  if (o.immediate) {
    po.target_kind = "immediate";
    r.target = "immediate";
  } else if (o.random_point) {
    SourceChecksOptions so{o.config, o.repository, {s.name}, o.now_ns};
    auto checks = check_sources(repo, so, ctx);
    if (checks.empty() || checks[0].window_start_ns == 0 ||
        checks[0].window_end_ns <= checks[0].window_start_ns)
      throw Error(Errc::kNotFound,
                  "source " + s.name + " has no point-in-time window to pick from");
    uint64_t seed = o.random_seed;
    if (seed == 0) {
      Bytes b = random_bytes(8);
      std::memcpy(&seed, b.data(), 8);
    }
    std::mt19937_64 rng(seed);
    // Whole seconds (a target is written as RFC 3339 seconds): from the first whole second
    // after the window starts (the oldest backup's end), never before it.
    const int64_t kSec = 1'000'000'000;
    const int64_t first = (checks[0].window_start_ns / kSec + 1) * kSec;
    const int64_t last = checks[0].window_end_ns / kSec * kSec;
    if (last < first)
      throw Error(Errc::kNotFound,
                  "source " + s.name + "'s point-in-time window is shorter than a second");
    const int64_t t =
        first +
        static_cast<int64_t>(rng() % static_cast<uint64_t>((last - first) / kSec + 1)) * kSec;
    po.target_kind = "time";
    po.target_value = format_rfc3339(t);
    r.target = "time";
    r.target_time = po.target_value;
  } else if (!o.target_time.empty()) {
    po.target_kind = "time";
    po.target_value = o.target_time;
    r.target = "time";
    r.target_time = o.target_time;
  } else {
    r.target = "latest";
  }
  PgRestoreResult pr = restore_postgres(repo, po, ctx);
  r.backup_id = pr.backup_id;
  r.files = pr.files.files;
  r.bytes = pr.files.bytes;
  if (!pr.server) throw Error(Errc::kInternal, "the restored server was not handed over");
  pg::Server& server = *pr.server;
  const auto m = repo.load_manifest(r.backup_id);
  catalog::BackupRecord rec = backup_record(m);
  std::string bound_time =
      r.target_time.empty() ? "" : format_pg_timestamp(parse_rfc3339(r.target_time));
  if (r.target == "immediate" && rec.pg) {
    // The data stands at the backup's end.
    bound_time = format_pg_timestamp(rec.pg->stop_time_ns);
    r.target_time = format_rfc3339(rec.pg->stop_time_ns);
  }
  if (bound_time.empty()) {
    // Recovery to the latest WAL (or the backup's end): the last transaction replayed is the
    // point the data stands at.
    std::string last = server.query(
        "SELECT coalesce(pg_last_xact_replay_timestamp(), now())::timestamptz(6)::text");
    bound_time = last;
    r.target_time = format_rfc3339(parse_rfc3339(last));
  }
  for (const auto& v : s.validate) {
    ctx.check_cancelled();
    const std::string db = v.database.empty() ? "postgres" : v.database;  // the same on both sides
    ValidationResult vr{v.name, v.query, db, v.expect, "", "", false, ""};
    try {
      vr.got = run_query(server.conninfo(db), v.query, bound_time);
      if (v.expect == "source") {
        vr.source_value = run_query(with_dbname(s.pg_conn, db), v.query, bound_time);
        vr.passed = vr.got == vr.source_value;
      } else {
        vr.passed = expectation_holds(v.expect, vr.got);
      }
    } catch (const Error& e) {
      if (e.code() == Errc::kCancelled) throw;
      vr.error = e.what();
    }
    r.validations.push_back(vr);
  }
  // Without queries of its own, a test still proves that every database of the backup accepts
  // connections and reads its catalog.
  if (s.validate.empty() && rec.pg) {
    for (const auto& db : rec.pg->databases) {
      ValidationResult vr{"database " + db.name + " opens",
                          "SELECT count(*) FROM pg_class",
                          db.name,
                          "> 0",
                          "",
                          "",
                          false,
                          ""};
      try {
        vr.got = run_query(server.conninfo(db.name), vr.query, "");
        vr.passed = expectation_holds(vr.expect, vr.got);
      } catch (const Error& e) {
        if (e.code() == Errc::kCancelled) throw;
        vr.error = e.what();
      }
      r.validations.push_back(vr);
    }
  }
  // Row counts against the estimates the backup recorded.
  if (rec.pg && r.target == "immediate") {
    for (const auto& db : rec.pg->databases) {
      for (const auto& t : db.tables) {
        if (t.rows_estimate < 0) continue;  // never analysed: no estimate
        ctx.check_cancelled();
        ValidationResult vr{"rows of " + db.name + "." + t.name,
                            "SELECT count(*) FROM " + quote_table(t.name),
                            db.name,
                            "~ " + std::to_string(t.rows_estimate),
                            "",
                            "",
                            false,
                            ""};
        try {
          vr.got = run_query(server.conninfo(db.name), vr.query, "");
          double got = std::stod(vr.got);
          double est = static_cast<double>(t.rows_estimate);
          double slack = std::max(s.row_count_tolerance * est, 100.0);
          vr.passed = std::fabs(got - est) <= slack;
          vr.expect = "within " + std::to_string(static_cast<int64_t>(slack)) +
                      " of the estimate " + std::to_string(t.rows_estimate);
        } catch (const std::exception& e) {
          vr.error = e.what();
        }
        r.validations.push_back(vr);
      }
    }
  }
  validated_at = monotonic_seconds();
  pr.server->stop(true);  // a scratch cluster: no shutdown checkpoint
  pr.server.reset();
}

void test_files(repo::Repository& repo, const config::SourceConfig& s,
                const std::vector<catalog::BackupRecord>& backups, const Scratch& scratch,
                RestoreTestResult& r, double& validated_at, const OpContext& ctx) {
  if (backups.empty()) throw Error(Errc::kNotFound, "source " + s.name + " has no backup");
  const auto& newest =
      *std::max_element(backups.begin(), backups.end(),
                        [](const auto& a, const auto& b) { return a.end_ns < b.end_ns; });
  r.backup_id = newest.id;
  r.target = "backup";
  const repo::Manifest m = repo.load_manifest(newest.id);
  RestoreOptions ro;
  ro.same_owner = false;
  ro.special_files = false;
  ro.durable = false;
  if (m.type == "command") {
    ro.target = scratch.path() + "/output";
    RestoreResult rr = restore_command(repo, m, ro, ctx);
    r.files = 1;
    r.bytes = rr.bytes;
    struct stat st {};
    bool ok = ::stat(ro.target.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == m.size;
    r.validations.push_back(
        {"output size", "", "", std::to_string(m.size), std::to_string(st.st_size), "", ok, ""});
    validated_at = monotonic_seconds();
    return;
  }
  ro.target = scratch.path() + "/tree";
  RestoreResult rr = restore_files(repo, m, ro, ctx);
  r.files = rr.files;
  r.bytes = rr.bytes;
  // Every file as recorded: present with its size (its content was authenticated chunk by chunk
  // against the ids while it was restored).
  uint64_t checked = 0, wrong = 0;
  std::string first_wrong;
  repo::TreeReader tree(repo, m);
  while (auto e = tree.next()) {
    if (e->kind != repo::EntryKind::kFile) continue;
    ctx.check_cancelled();
    ++checked;
    struct stat st {};
    std::string p = ro.target + "/" + e->path;
    if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) ||
        static_cast<uint64_t>(st.st_size) != e->size) {
      if (wrong++ == 0) first_wrong = e->path;
    }
  }
  r.validations.push_back({"files read back with their recorded sizes", "", "",
                           std::to_string(checked) + " files",
                           std::to_string(checked - wrong) + " files", "", wrong == 0,
                           wrong ? "first mismatch: " + first_wrong : ""});
  validated_at = monotonic_seconds();
}

}  // namespace

bool expectation_holds(const std::string& expect, const std::string& got) {
  for (const char* op : {">=", "<=", "!=", "=", ">", "<"}) {
    if (expect.rfind(op, 0) != 0) continue;
    std::string want = expect.substr(std::strlen(op));
    while (!want.empty() && want[0] == ' ') want.erase(0, 1);
    auto g = as_number(got), w = as_number(want);
    std::string o = op;
    if (o == "=" || o == "!=") {
      bool eq = g && w ? *g == *w : got == want;
      return o == "=" ? eq : !eq;
    }
    if (!g || !w) return false;
    if (o == ">=") return *g >= *w;
    if (o == "<=") return *g <= *w;
    if (o == ">") return *g > *w;
    return *g < *w;
  }
  return got == expect;  // a literal
}

nlohmann::json RestoreTestResult::to_json() const {
  nlohmann::json v = nlohmann::json::array();
  for (const auto& x : validations) {
    nlohmann::json j = {
        {"name", x.name}, {"expect", x.expect}, {"got", x.got}, {"passed", x.passed}};
    if (!x.query.empty()) j["query"] = x.query;
    if (!x.database.empty()) j["database"] = x.database;
    if (!x.source_value.empty()) j["source_value"] = x.source_value;
    if (!x.error.empty()) j["error"] = x.error;
    v.push_back(j);
  }
  nlohmann::json j = {{"source", source},
                      {"type", type},
                      {"kind", kind},
                      {"backup", backup_id},
                      {"target", target},
                      {"target_time", target_time},
                      {"started_ns", started_ns},
                      {"started", format_rfc3339(started_ns)},
                      {"finished_ns", finished_ns},
                      {"rto_seconds", rto_seconds},
                      {"files", files},
                      {"bytes", bytes},
                      {"validations", v},
                      {"passed", passed}};
  if (rto_target_s) {
    j["rto_target_seconds"] = *rto_target_s;
    j["rto_met"] = rto_seconds <= static_cast<double>(*rto_target_s);
  }
  if (!error.empty()) j["error"] = error;
  if (!scratch.empty()) j["scratch"] = scratch;
  if (!stored_as.empty()) j["id"] = stored_as;
  return j;
}

RestoreTestResult restore_test(repo::Repository& repo, const RestoreTestOptions& o,
                               const OpContext& ctx) {
  if (o.config == nullptr) throw Error(Errc::kUsage, "restore-test needs a configuration file");
  const config::SourceConfig& s = o.config->source(o.source);
  if (s.repository != o.repository)
    throw Error(Errc::kUsage, "source " + s.name + " is kept in repository " + s.repository +
                                  ", not " + o.repository);
  if (s.type != config::SourceType::kPostgres &&
      (o.random_point || !o.target_time.empty() || o.immediate))
    throw Error(Errc::kUsage, "recovery targets apply to postgres sources");
  RestoreTestResult r;
  r.source = s.name;
  r.type = config::to_string(s.type);
  r.kind = s.kind;
  r.rto_target_s = s.rto;
  r.started_ns = now_ns();
  const double t0 = monotonic_seconds();
  double validated_at = 0;  // the RTO ends here (stopping and removing the scratch are not in it)
  try {
    Scratch scratch(o.scratch_parent, o.keep);
    if (o.keep) r.scratch = scratch.path();
    if (s.type == config::SourceType::kPostgres) {
      test_postgres(repo, o, s, scratch, r, validated_at, ctx);
    } else {
      std::vector<catalog::BackupRecord> records;
      for (const auto& m : repo.list_manifests()) records.push_back(backup_record(m));
      SourceAssignment groups = assign_backups(records, *o.config, o.repository);
      std::vector<catalog::BackupRecord> mine;
      for (const auto& g : groups.sources)
        if (g.source->name == s.name) mine = g.backups;
      test_files(repo, s, mine, scratch, r, validated_at, ctx);
    }
    r.passed = std::all_of(r.validations.begin(), r.validations.end(),
                           [](const ValidationResult& v) { return v.passed; });
  } catch (const Error& e) {
    if (e.code() == Errc::kCancelled || e.code() == Errc::kUsage) throw;
    r.error = e.what();
    if (r.target == "time" && r.error.find("stopped during recovery") != std::string::npos)
      r.error +=
          " (a time target is reached only when a later transaction is in the archived "
          "WAL: on a database without writes since " +
          r.target_time + ", recovery ends before it)";
    r.passed = false;
  }
  r.finished_ns = now_ns();
  r.rto_seconds = (validated_at > 0 ? validated_at : monotonic_seconds()) - t0;
  if (r.rto_target_s && r.rto_seconds > static_cast<double>(*r.rto_target_s)) {
    r.passed = false;
    if (r.error.empty())
      r.error = "the restore took " + std::to_string(static_cast<int64_t>(r.rto_seconds)) +
                " s, over the RTO of " + config::format_duration(*r.rto_target_s);
  }
  r.stored_as = repo.save_restore_test(r.to_json());
  return r;
}

}  // namespace sr::ops

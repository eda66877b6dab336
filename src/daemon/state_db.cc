#include "daemon/state_db.h"

#include <sqlite3.h>

#include "base/error.h"
#include "base/sqlite.h"

namespace sr::daemon {
namespace {

constexpr const char* kWho = "daemon state database";

class Stmt : public sqlite::Stmt {
 public:
  Stmt(sqlite3* db, const char* sql) : sqlite::Stmt(db, sql, kWho) {}
};

constexpr const char* kJobColumns =
    "id, source, repository, job, type, trigger_, schedule, state, queued_ns, start_ns, end_ns, "
    "bytes, error, result, log_path";

JobRecord read_job(Stmt& s) {
  JobRecord j;
  j.id = s.integer(0);
  j.source = s.text(1);
  j.repository = s.text(2);
  j.job = s.text(3);
  j.type = s.text(4);
  j.trigger = s.text(5);
  j.schedule = s.text(6);
  j.state = s.text(7);
  j.queued_ns = s.integer(8);
  j.start_ns = s.integer(9);
  j.end_ns = s.integer(10);
  j.bytes = static_cast<uint64_t>(s.integer(11));
  j.error = s.text(12);
  j.result = s.text(13);
  j.log_path = s.text(14);
  return j;
}

void bind_job(Stmt& s, const JobRecord& j) {
  s.bind_text(1, j.source);
  s.bind_text(2, j.repository);
  s.bind_text(3, j.job);
  s.bind_text(4, j.type);
  s.bind_text(5, j.trigger);
  s.bind_text(6, j.schedule);
  s.bind_text(7, j.state);
  s.bind_int(8, j.queued_ns);
  s.bind_int(9, j.start_ns);
  s.bind_int(10, j.end_ns);
  s.bind_int(11, static_cast<int64_t>(j.bytes));
  s.bind_text(12, j.error);
  s.bind_text(13, j.result);
  s.bind_text(14, j.log_path);
}

constexpr const char* kAlertColumns =
    "id, key, rule, source, severity, summary, state, since_ns, resolved_ns, last_notified_ns, "
    "notifications, resolve_notified";

AlertRecord read_alert(Stmt& s) {
  AlertRecord a;
  a.id = s.integer(0);
  a.key = s.text(1);
  a.rule = s.text(2);
  a.source = s.text(3);
  a.severity = s.text(4);
  a.summary = s.text(5);
  a.state = s.text(6);
  a.since_ns = s.integer(7);
  a.resolved_ns = s.integer(8);
  a.last_notified_ns = s.integer(9);
  a.notifications = static_cast<int>(s.integer(10));
  a.resolve_notified = s.integer(11) != 0;
  return a;
}

}  // namespace

StateDb::StateDb(const std::string& path) {
  if (sqlite3_open_v2(path.c_str(), &db_,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw Error(Errc::kIo, "cannot open the daemon state database " + path + ": " + msg);
  }
  try {
    sqlite3_busy_timeout(db_, 10000);
    if (!path.empty()) exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec(
        "CREATE TABLE IF NOT EXISTS jobs(id INTEGER PRIMARY KEY AUTOINCREMENT, source TEXT, "
        "repository TEXT, job TEXT, type TEXT, trigger_ TEXT, schedule TEXT, state TEXT, "
        "queued_ns INTEGER, start_ns INTEGER, end_ns INTEGER, bytes INTEGER, error TEXT, "
        "result TEXT, log_path TEXT);"
        "CREATE INDEX IF NOT EXISTS jobs_source ON jobs(source, id);"
        "CREATE TABLE IF NOT EXISTS schedules(key TEXT PRIMARY KEY, last_fire_s INTEGER);"
        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value INTEGER);"
        "CREATE TABLE IF NOT EXISTS alerts(id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT, "
        "rule TEXT, source TEXT, severity TEXT, summary TEXT, state TEXT, since_ns INTEGER, "
        "resolved_ns INTEGER, last_notified_ns INTEGER, notifications INTEGER, "
        "resolve_notified INTEGER);"
        "CREATE INDEX IF NOT EXISTS alerts_state ON alerts(state, id);");
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

StateDb::~StateDb() { sqlite3_close(db_); }

void StateDb::exec(const char* sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "?";
    sqlite3_free(err);
    throw Error(Errc::kIo, std::string(kWho) + ": " + msg);
  }
}

int64_t StateDb::add_job(const JobRecord& job) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "INSERT INTO jobs(source, repository, job, type, trigger_, schedule, state, queued_ns, "
         "start_ns, end_ns, bytes, error, result, log_path) "
         "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)");
  bind_job(s, job);
  s.step();
  return sqlite3_last_insert_rowid(db_);
}

void StateDb::update_job(const JobRecord& job) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "UPDATE jobs SET source=?, repository=?, job=?, type=?, trigger_=?, schedule=?, state=?, "
         "queued_ns=?, start_ns=?, end_ns=?, bytes=?, error=?, result=?, log_path=? WHERE id=?");
  bind_job(s, job);
  s.bind_int(15, job.id);
  s.step();
}

std::optional<JobRecord> StateDb::job(int64_t id) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kJobColumns + " FROM jobs WHERE id=?").c_str());
  s.bind_int(1, id);
  if (!s.step()) return std::nullopt;
  return read_job(s);
}

std::vector<JobRecord> StateDb::jobs(const std::string& source, size_t limit) {
  std::lock_guard lock(mu_);
  std::string sql = std::string("SELECT ") + kJobColumns + " FROM jobs" +
                    (source.empty() ? "" : " WHERE source=?") + " ORDER BY id DESC LIMIT ?";
  Stmt s(db_, sql.c_str());
  int i = 1;
  if (!source.empty()) s.bind_text(i++, source);
  s.bind_int(i, static_cast<int64_t>(limit));
  std::vector<JobRecord> out;
  while (s.step()) out.push_back(read_job(s));
  return out;
}

std::vector<JobRecord> StateDb::last_finished_jobs() {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kJobColumns +
               " FROM jobs WHERE id IN (SELECT max(id) FROM jobs WHERE state IN "
               "('ok','failed','cancelled') GROUP BY source, repository, job, type) ORDER BY id")
                  .c_str());
  std::vector<JobRecord> out;
  while (s.step()) out.push_back(read_job(s));
  return out;
}

std::vector<std::string> StateDb::forget_jobs(int64_t before_ns, size_t keep) {
  std::lock_guard lock(mu_);
  const char* where =
      " FROM jobs WHERE state IN ('ok','failed','cancelled') AND end_ns < ?1 AND "
      "id < (SELECT coalesce(min(id), 0) FROM (SELECT id FROM jobs ORDER BY id DESC LIMIT ?2))";
  std::vector<std::string> logs;
  {
    Stmt s(db_, (std::string("SELECT log_path") + where).c_str());
    s.bind_int(1, before_ns);
    s.bind_int(2, static_cast<int64_t>(keep));
    while (s.step())
      if (!s.text(0).empty()) logs.push_back(s.text(0));
  }
  Stmt d(db_, (std::string("DELETE") + where).c_str());
  d.bind_int(1, before_ns);
  d.bind_int(2, static_cast<int64_t>(keep));
  d.step();
  return logs;
}

size_t StateDb::close_unfinished(int64_t now_ns) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "UPDATE jobs SET state='failed', end_ns=?, error='the daemon stopped before the job "
         "finished' WHERE state IN ('queued','running')");
  s.bind_int(1, now_ns);
  s.step();
  return static_cast<size_t>(sqlite3_changes(db_));
}

std::optional<int64_t> StateDb::last_fire(const std::string& key) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT last_fire_s FROM schedules WHERE key=?");
  s.bind_text(1, key);
  if (!s.step()) return std::nullopt;
  return s.integer(0);
}

void StateDb::set_last_fire(const std::string& key, int64_t fire_s) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "INSERT INTO schedules(key, last_fire_s) VALUES (?, ?) "
         "ON CONFLICT(key) DO UPDATE SET last_fire_s=excluded.last_fire_s");
  s.bind_text(1, key);
  s.bind_int(2, fire_s);
  s.step();
}

std::optional<int64_t> StateDb::meta_int(const std::string& key) {
  std::lock_guard lock(mu_);
  Stmt s(db_, "SELECT value FROM meta WHERE key=?");
  s.bind_text(1, key);
  if (!s.step()) return std::nullopt;
  return s.integer(0);
}

void StateDb::set_meta_int(const std::string& key, int64_t value) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "INSERT INTO meta(key, value) VALUES (?, ?) "
         "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
  s.bind_text(1, key);
  s.bind_int(2, value);
  s.step();
}

std::vector<AlertRecord> StateDb::firing_alerts() {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         (std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE state='firing' ORDER BY id")
             .c_str());
  std::vector<AlertRecord> out;
  while (s.step()) out.push_back(read_alert(s));
  return out;
}

std::vector<AlertRecord> StateDb::alerts(int64_t resolved_since_ns, size_t limit) {
  std::lock_guard lock(mu_);
  Stmt s(db_, (std::string("SELECT ") + kAlertColumns +
               " FROM alerts WHERE state='firing' OR resolved_ns >= ? "
               "ORDER BY state='firing' DESC, id DESC LIMIT ?")
                  .c_str());
  s.bind_int(1, resolved_since_ns);
  s.bind_int(2, static_cast<int64_t>(limit));
  std::vector<AlertRecord> out;
  while (s.step()) out.push_back(read_alert(s));
  return out;
}

void StateDb::forget_alerts(int64_t before_ns) {
  std::lock_guard lock(mu_);
  Stmt s(db_,
         "DELETE FROM alerts WHERE state='resolved' AND resolve_notified=1 AND resolved_ns < ?");
  s.bind_int(1, before_ns);
  s.step();
}

void StateDb::save_alert(AlertRecord& a) {
  std::lock_guard lock(mu_);
  Stmt s(db_, a.id == 0
                  ? "INSERT INTO alerts(key, rule, source, severity, summary, state, since_ns, "
                    "resolved_ns, last_notified_ns, notifications, resolve_notified) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?)"
                  : "UPDATE alerts SET key=?, rule=?, source=?, severity=?, summary=?, state=?, "
                    "since_ns=?, resolved_ns=?, last_notified_ns=?, notifications=?, "
                    "resolve_notified=? WHERE id=?");
  s.bind_text(1, a.key);
  s.bind_text(2, a.rule);
  s.bind_text(3, a.source);
  s.bind_text(4, a.severity);
  s.bind_text(5, a.summary);
  s.bind_text(6, a.state);
  s.bind_int(7, a.since_ns);
  s.bind_int(8, a.resolved_ns);
  s.bind_int(9, a.last_notified_ns);
  s.bind_int(10, a.notifications);
  s.bind_int(11, a.resolve_notified ? 1 : 0);
  if (a.id != 0) s.bind_int(12, a.id);
  s.step();
  if (a.id == 0) a.id = sqlite3_last_insert_rowid(db_);
}

}  // namespace sr::daemon

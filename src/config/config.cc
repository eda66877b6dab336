#include "config/config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

#include "base/error.h"
#include "config/config_daemon.h"
#include "config/yaml_reader.h"

namespace sr::config {

const char* const kSourceKinds[6] = {"database",     "configuration", "infrastructure",
                                     "certificates", "volume",        "export"};
const char* const kAlertRules[10] = {
    "backup_failed", "backup_stale",  "backup_size_changed", "rpo_breach",  "restore_test_failed",
    "rto_breach",    "verify_failed", "replication_lag",     "stream_down", "daemon_health"};

namespace {

using namespace yaml_reader;

// `<name>_file` / `<name>_env`: at most one, and no inline `<name>` (a secret in the file).
SecretRef secret(Map& m, const std::string& name) {
  SecretRef r;
  if (auto v = m.get(name + "_file")) r.file = v->nonempty();
  if (auto v = m.get(name + "_env")) r.env = v->nonempty();
  if (!r.file.empty() && !r.env.empty())
    fail(Where{m.where().file, m.mark_of(name + "_env"), m.child_path(name + "_env")},
         "give " + name + "_file or " + name + "_env, not both");
  return r;
}

void refuse_inline_secret(Map& m, const std::string& name) {
  if (m.has(name))
    fail(Where{m.where().file, m.mark_of(name), m.child_path(name)},
         "secrets are never written in the configuration: use " + name +
             "_file (a file only "
             "the service user can read) or " +
             name + "_env (an environment variable's name)");
}

RepositoryConfig parse_repository(const std::string& name, const Value& v) {
  Map m = v.map();
  RepositoryConfig r;
  r.name = name;
  r.line = v.where().mark.line + 1;
  r.url = m.need("url").nonempty();
  refuse_inline_secret(m, "password");
  r.password = secret(m, "password");
  if (auto x = m.get("key_file")) r.key_file = x->nonempty();
  if (!r.key_file.empty() && !r.password.empty())
    fail(m.where(), "give a password (password_file/password_env) or key_file, not both");
  if (auto x = m.get("ca_file")) r.ca_file = x->nonempty();
  if (auto x = m.get("replicate_from")) r.replicate_from = x->nonempty();
  if (auto x = m.get("cost_per_gib_month")) r.cost_per_gib_month = x->number(0, 1e6);
  if (auto x = m.get("s3")) {
    Map s = x->map();
    S3Config c;
    if (auto y = s.get("region")) c.region = y->nonempty();
    if (auto y = s.get("endpoint")) c.endpoint = y->nonempty();
    for (const char* k : {"access_key_id", "secret_access_key", "session_token"})
      refuse_inline_secret(s, k);
    c.access_key_id = secret(s, "access_key_id");
    c.secret_access_key = secret(s, "secret_access_key");
    c.session_token = secret(s, "session_token");
    s.finish();
    if (r.url.rfind("s3://", 0) != 0) fail(x->where(), "s3 settings need an s3:// url");
    r.s3 = c;
  }
  if (auto x = m.get("azure")) {
    Map s = x->map();
    AzureConfig c;
    if (auto y = s.get("account")) c.account = y->nonempty();
    if (auto y = s.get("endpoint")) c.endpoint = y->nonempty();
    for (const char* k : {"key", "sas_token", "connection_string"}) refuse_inline_secret(s, k);
    c.key = secret(s, "key");
    c.sas_token = secret(s, "sas_token");
    c.connection_string = secret(s, "connection_string");
    s.finish();
    if (r.url.rfind("azure://", 0) != 0) fail(x->where(), "azure settings need an azure:// url");
    r.azure = c;
  }
  if (auto x = m.get("limits")) {
    Map l = x->map();
    if (auto y = l.get("parallelism"))
      r.limits.parallelism = static_cast<unsigned>(y->integer(1, 64));
    if (auto y = l.get("part_size")) {
      r.limits.part_size = y->size();
      if (r.limits.part_size < (5ull << 20)) fail(y->where(), "must be at least 5M");
    }
    if (auto y = l.get("retry_for")) r.limits.retry_for = y->duration();
    if (auto y = l.get("connect_timeout")) r.limits.connect_timeout = y->duration();
    if (auto y = l.get("stall_timeout")) r.limits.stall_timeout = y->duration();
    l.finish();
  }
  m.finish();
  return r;
}

RetentionRule parse_retention(const Value& v) {
  Map m = v.map();
  RetentionRule r;
  if (auto x = m.get("keep_within")) r.keep_within = x->duration();
  struct {
    const char* key;
    int* field;
  } counts[] = {{"keep_last", &r.keep_last},       {"keep_hourly", &r.keep_hourly},
                {"keep_daily", &r.keep_daily},     {"keep_weekly", &r.keep_weekly},
                {"keep_monthly", &r.keep_monthly}, {"keep_yearly", &r.keep_yearly}};
  for (auto& c : counts)
    if (auto x = m.get(c.key)) *c.field = static_cast<int>(x->integer(0, 1'000'000));
  if (auto x = m.get("keep_tags")) r.keep_tags = x->strings();
  if (auto x = m.get("pitr_window")) r.pitr_window = x->duration();
  m.finish();
  if (!r.any())
    fail(v.where(), "a retention rule keeps nothing: give at least one keep_* or pitr_window");
  return r;
}

std::string parse_kind(const Value& v) {
  return v.one_of({kSourceKinds[0], kSourceKinds[1], kSourceKinds[2], kSourceKinds[3],
                   kSourceKinds[4], kSourceKinds[5]});
}

bool valid_name(const std::string& s) {
  return !s.empty() && s.size() <= 64 &&
         std::all_of(s.begin(), s.end(),
                     [](char c) {
                       return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
                     }) &&
         s[0] != '.' && s[0] != '-';
}

void check_expectation(const Value& v, const std::string& e) {
  if (e == "source") return;
  if (e.rfind("==", 0) == 0 || e.rfind("=>", 0) == 0 || e.rfind("=<", 0) == 0 ||
      e.rfind("<>", 0) == 0 || (!e.empty() && std::strchr("~!", e[0]) && e.rfind("!=", 0) != 0))
    fail(v.where(), "expectation '" + e +
                        "': the comparisons are =, !=, <, <=, >, >= (or a "
                        "literal, or source)");
  std::string rest = e;
  for (const char* op : {">=", "<=", "!=", "=", ">", "<"})
    if (e.rfind(op, 0) == 0) {
      rest = e.substr(std::strlen(op));
      while (!rest.empty() && rest[0] == ' ') rest.erase(0, 1);
      if (rest.empty()) fail(v.where(), "expectation '" + e + "' compares with nothing");
      if (std::strcmp(op, "=") != 0 && std::strcmp(op, "!=") != 0) {
        char* end = nullptr;
        const double n = std::strtod(rest.c_str(), &end);
        if (end == rest.c_str() || *end != '\0' || !std::isfinite(n))
          fail(v.where(), "expectation '" + e + "': " + op + " needs a number");
      }
      return;
    }
}

SourceConfig parse_source(const std::string& name, const Value& v) {
  Map m = v.map();
  SourceConfig s;
  s.name = name;
  s.line = v.where().mark.line + 1;
  std::string type = m.need("type").one_of({"postgres", "files", "command"});
  s.type = type == "postgres" ? SourceType::kPostgres
           : type == "files"  ? SourceType::kFiles
                              : SourceType::kCommand;
  s.kind = parse_kind(m.need("kind"));
  if (auto x = m.get("repository")) s.repository = x->nonempty();
  if (auto x = m.get("tags")) s.tags = x->strings();
  if (auto x = m.get("host")) s.host = x->nonempty();
  if (s.type == SourceType::kPostgres) {
    s.stanza = name;
    if (auto x = m.get("stanza")) {
      s.stanza = x->nonempty();
      if (!valid_name(s.stanza)) fail(x->where(), "a stanza is letters, digits, '-', '_', '.'");
    }
    s.pg_data = m.need("pg_data").nonempty();
    s.pg_conn = m.need("pg_conn").nonempty();
  } else if (s.type == SourceType::kFiles) {
    Value paths = m.need("paths");
    s.paths = paths.strings();
    for (const auto& p : s.paths)
      if (p.empty() || p[0] != '/' || p.find("/./") != std::string::npos ||
          p.find("/../") != std::string::npos || (p.size() > 1 && p.back() == '/') ||
          p.find("//") != std::string::npos)
        fail(paths.where(), "'" + p +
                                "': paths are absolute and normalised (backups record them "
                                "so, and are matched to their source by them)");
  } else {
    s.command = m.need("command").nonempty();
    s.output_name = name;
    if (auto x = m.get("output_name")) s.output_name = x->nonempty();
  }
  if (auto x = m.get("schedules")) {
    x->for_each([&](const Value& item) {
      Map sm = item.map();
      ScheduleConfig sc;
      if (auto t = sm.get("type")) {
        if (s.type != SourceType::kPostgres)
          fail(t->where(), "only postgres sources have backup types (full, diff, incr)");
        sc.type = t->one_of({"full", "diff", "incr"});
      } else if (s.type == SourceType::kPostgres) {
        sc.type = "full";
      }
      sc.cron = parse_cron(sm.need("cron"));
      sm.finish();
      s.schedules.push_back(sc);
    });
  }
  if (auto x = m.get("verify")) {
    Map vm = x->map();
    if (auto y = vm.get("max_age")) s.verify.max_age = y->duration();
    if (auto y = vm.get("max_wal_lag")) {
      if (s.type != SourceType::kPostgres) fail(y->where(), "only postgres sources have WAL");
      s.verify.max_wal_lag = y->duration();
    }
    vm.finish();
  }
  if (auto x = m.get("rpo")) s.rpo = x->duration();
  if (auto x = m.get("rto")) s.rto = x->duration();
  if (auto x = m.get("validate")) {
    if (s.type != SourceType::kPostgres)
      fail(x->where(),
           "validation queries are for postgres sources (files and command sources "
           "are checked file by file)");
    x->for_each([&](const Value& item) {
      Map vm = item.map();
      Validation val;
      val.query = vm.need("query").nonempty();
      val.name = val.query;
      if (auto y = vm.get("name")) val.name = y->nonempty();
      if (auto y = vm.get("database")) val.database = y->nonempty();
      Value e = vm.need("expect");
      val.expect = e.nonempty();
      check_expectation(e, val.expect);
      vm.finish();
      s.validate.push_back(val);
    });
  }
  if (auto x = m.get("row_count_tolerance")) s.row_count_tolerance = x->fraction();
  if (auto x = m.get("retention")) s.retention = parse_retention(*x);
  parse_source_daemon_keys(m, s);
  if (s.retention && s.retention->pitr_window && s.type != SourceType::kPostgres)
    fail(v.where(), "pitr_window is for postgres sources");
  m.finish();
  return s;
}

}  // namespace

bool RetentionRule::any() const {
  return keep_within || keep_last || keep_hourly || keep_daily || keep_weekly || keep_monthly ||
         keep_yearly || !keep_tags.empty() || pitr_window;
}

std::string to_string(SourceType t) {
  switch (t) {
    case SourceType::kPostgres:
      return "postgres";
    case SourceType::kFiles:
      return "files";
    case SourceType::kCommand:
      return "command";
  }
  return "?";
}

const SourceConfig& Config::source(const std::string& name) const {
  std::vector<std::string> names;
  for (const auto& s : sources) {
    if (s.name == name) return s;
    names.push_back(s.name);
  }
  throw Error(Errc::kUsage, "no source '" + name + "' in " + file +
                                (names.empty() ? "" : " (sources: " + join(names) + ")"));
}

const RepositoryConfig& Config::repository(const std::string& name) const {
  auto it = repositories.find(name);
  if (it != repositories.end()) return it->second;
  std::vector<std::string> names;
  for (const auto& [n, r] : repositories) names.push_back(n);
  throw Error(Errc::kUsage, "no repository '" + name + "' in " + file +
                                (names.empty() ? "" : " (repositories: " + join(names) + ")"));
}

RetentionRule Config::retention_for(const SourceConfig& s) const {
  if (s.retention) return *s.retention;
  auto it = retention.find(s.kind);
  return it == retention.end() ? RetentionRule{} : it->second;
}

// yaml-cpp 0.7 (Debian 12) loops, allocating without bound, on a document whose first token is
// ',' (found by fuzz/config_fuzz.cc): such a file is refused before it reaches the parser.
void refuse_leading_comma(const std::string& text, const std::string& file) {
  bool at_document_start = true;
  size_t line_no = 0, pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(pos, end - pos);
    pos = end + 1;
    ++line_no;
    size_t i = line.find_first_not_of(" \t\r");
    if (i == std::string::npos || line[i] == '#' || (i == 0 && line[0] == '%')) continue;
    std::string rest = line.substr(i);
    if (i == 0 && (rest.rfind("---", 0) == 0 || rest.rfind("...", 0) == 0) &&
        (rest.size() == 3 || rest[3] == ' ' || rest[3] == '\t' || rest[3] == '\r')) {
      at_document_start = true;
      size_t j = rest.find_first_not_of(" \t\r", 3);
      if (j == std::string::npos || rest[j] == '#') continue;
      rest = rest.substr(j);
    }
    if (at_document_start && rest[0] == ',')
      throw Error(Errc::kUsage, file + ":" + std::to_string(line_no) +
                                    ": not valid YAML: a document cannot start with ','");
    at_document_start = false;
  }
}

Config parse_config(const std::string& text, const std::string& file) {
  Config c;
  c.file = file;
  refuse_leading_comma(text, file);
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception& e) {
    fail(Where{&c.file, e.mark, ""}, "not valid YAML: " + e.msg);
  }
  if (docs.size() != 1 || docs[0].IsNull())
    fail(Where{&c.file, YAML::Mark::null_mark(), ""},
         docs.empty() || docs[0].IsNull() ? "the file is empty" : "expected one YAML document");
  Map top(docs[0], Where{&c.file, docs[0].Mark(), ""});
  Value repos = top.need("repositories");
  {
    Map rm = repos.map();
    for (const std::string& name : rm.keys()) {
      auto got = rm.get(name);
      if (!got)
        fail(Where{&c.file, rm.mark_of(name), rm.child_path(name)},
             "a repository needs settings (at least url)");
      Value v = *got;
      if (!valid_name(name)) fail(v.where(), "a repository name is letters, digits, '-', '_', '.'");
      c.repositories[name] = parse_repository(name, v);
    }
    rm.finish();
  }
  if (auto x = top.get("sources")) {
    Map sm = x->map();
    for (const std::string& name : sm.keys()) {
      auto v = sm.get(name);
      if (!v)
        fail(Where{&c.file, sm.mark_of(name), sm.child_path(name)}, "a source needs settings");
      if (!valid_name(name)) fail(v->where(), "a source name is letters, digits, '-', '_', '.'");
      c.sources.push_back(parse_source(name, *v));
    }
    sm.finish();
  }
  if (auto x = top.get("retention")) {
    Map rm = x->map();
    for (const char* kind : kSourceKinds)
      if (auto v = rm.get(kind)) c.retention[kind] = parse_retention(*v);
    rm.finish();
    for (const auto& [kind, rule] : c.retention)
      if (rule.pitr_window && kind != "database")
        fail(Where{&c.file, x->where().mark, "retention." + kind},
             "pitr_window is for databases (postgres sources)");
  }
  if (auto x = top.get("prune")) {
    Map pm = x->map();
    if (auto y = pm.get("grace")) c.prune_grace = y->duration();
    if (auto y = pm.get("max_unused")) c.prune_max_unused = y->fraction();
    pm.finish();
  }
  parse_daemon_sections(top, c);
  top.finish();

  // References between entries.
  auto repo_where = [&](const RepositoryConfig& r) {
    YAML::Mark mark;
    mark.line = r.line - 1;
    return Where{&c.file, mark, "repositories." + r.name};
  };
  for (const auto& [name, r] : c.repositories) {
    if (r.replicate_from.empty()) continue;
    if (!c.repositories.count(r.replicate_from))
      fail(repo_where(r), "replicate_from names no repository: '" + r.replicate_from + "'");
    std::set<std::string> seen{name};
    for (std::string from = r.replicate_from; !from.empty();
         from = c.repositories.at(from).replicate_from)
      if (!seen.insert(from).second)
        fail(repo_where(r), "replicate_from makes a cycle through '" + from + "'");
  }
  std::set<std::string> stanzas;
  for (const auto& s : c.sources) {
    YAML::Mark mark;
    mark.line = s.line - 1;
    Where w{&c.file, mark, "sources." + s.name};
    if (!c.repositories.count(s.repository))
      fail(w, "repository '" + s.repository + "' is not defined under repositories");
    // What tells a source's backups apart in its repository must be unique there.
    std::string identity = s.type == SourceType::kPostgres  ? "stanza '" + s.stanza + "'"
                           : s.type == SourceType::kCommand ? "output_name '" + s.output_name + "'"
                                                            : "paths";
    std::string key = s.repository + "|" + config::to_string(s.type) + "|";
    if (s.type == SourceType::kFiles) {
      std::set<std::string> sorted(s.paths.begin(), s.paths.end());
      for (const auto& p : sorted) key += p + "\n";
    } else {
      key += s.type == SourceType::kPostgres ? s.stanza : s.output_name;
    }
    if (!stanzas.insert(key).second)
      fail(w, identity +
                  " is that of another source of the same repository (backups could not "
                  "be told apart)");
  }
  check_daemon_references(c);
  return c;
}

Config load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(Errc::kUsage, "cannot read the configuration file " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw Error(Errc::kUsage, "cannot read the configuration file " + path);
  return parse_config(text.str(), path);
}

}  // namespace sr::config

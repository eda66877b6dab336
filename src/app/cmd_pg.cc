// app/cmd_pg.cc: `strongroom mark` (named restore points on several clusters at one moment) and
// `strongroom stream` (WAL over a replication slot until SIGINT/SIGTERM).
#include <iostream>
#include <thread>

#include "app/commands.h"
#include "app/common.h"
#include "base/time_util.h"
#include "ops/pg_mark.h"
#include "ops/wal_stream.h"

namespace sr::app {
namespace {

struct MarkArgs {
  RepoArgs repo;
  std::string name;
  std::vector<std::string> conns, stanzas;
};

struct StreamArgs {
  RepoArgs repo;
  std::string conn, slot = "strongroom";
  bool synchronous = false;
};

int run_mark(const MarkArgs& a) {
  if (a.conns.empty())
    throw Error(Errc::kUsage, "mark needs --pg-conn (repeat it for several clusters)");
  if (!a.stanzas.empty() && a.stanzas.size() != a.conns.size())
    throw Error(Errc::kUsage, "give one --stanza per --pg-conn (or none: stanza 'main')");
  std::vector<ops::MarkTarget> targets;
  for (size_t i = 0; i < a.conns.size(); ++i)
    targets.push_back({a.stanzas.empty() ? a.repo.stanza : a.stanzas[i], a.conns[i]});
  auto repo = open_repo(a.repo);
  CommandRun run(true);
  auto r = ops::mark(*repo, {a.name, targets}, run.ctx());
  if (a.repo.json) {
    print_json(r.to_json());
    return 0;
  }
  for (const auto& m : r.marks)
    std::cout << "restore point '" << m.name << "' on stanza " << m.stanza << " at LSN " << m.lsn
              << " (" << format_rfc3339(m.time_ns) << ")\n";
  return 0;
}

int run_stream(StreamArgs& a) {
  if (a.conn.empty() && a.repo.source_config) a.conn = a.repo.source_config->pg_conn;
  if (a.conn.empty()) throw Error(Errc::kUsage, "stream needs --pg-conn (or --source NAME)");
  auto repo = open_repo(a.repo);
  CommandRun run(true, true);
  ops::StreamOptions o;
  o.stanza = a.repo.stanza;
  o.conninfo = a.conn;
  if (a.conn.find("application_name") == std::string::npos)
    o.conninfo += " application_name=strongroom";
  o.slot = a.slot;
  o.synchronous = a.synchronous;
  ops::stream_wal(*repo, o, run.ctx());
  return 0;
}

}  // namespace

void add_postgres_commands(CLI::App& app, int& result) {
  auto m = std::make_shared<MarkArgs>();
  auto* mark = app.add_subcommand(
      "mark", "Create a named restore point on one or more clusters at one moment");
  add_repo_options(mark, m->repo, true);
  mark->add_option("name", m->name, "Restore point name")->required();
  mark->add_option("--pg-conn", m->conns, "Connection string of a cluster (repeatable)");
  mark->add_option("--stanza", m->stanzas,
                   "Stanza of each --pg-conn, in the same order (default main)");
  mark->callback([m, &result] { result = run_mark(*m); });

  auto s = std::make_shared<StreamArgs>();
  auto* stream = app.add_subcommand(
      "stream",
      "Stream WAL into the repository over a replication slot (RPO <= 1 s; 0 with --synchronous)");
  add_repo_options(stream, s->repo, false);
  stream->add_option("--pg-conn", s->conn,
                     "Connection string of the server (a replication connection is made; default: "
                     "the --source's pg_conn)");
  add_stanza_option(stream, s->repo, "PostgreSQL cluster in the repository");
  add_source_option(stream, s->repo);
  stream->add_option("--slot", s->slot, "Physical replication slot (created if missing)")
      ->capture_default_str();
  stream->add_flag("--synchronous", s->synchronous,
                   "Acknowledge WAL only once durable in the repository; name application_name "
                   "'strongroom' in synchronous_standby_names for RPO = 0");
  stream->callback([s, &result] { result = run_stream(*s); });
}

}  // namespace sr::app

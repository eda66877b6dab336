#include "ops/pg_mark.h"

#include <barrier>
#include <thread>

#include "base/json_util.h"
#include "base/number.h"
#include "base/time_util.h"
#include "pg/libpq_session.h"
#include "repo/wal_store.h"

namespace sr::ops {

using nlohmann::json;

nlohmann::json MarkResult::to_json() const {
  json arr = json::array();
  for (const auto& m : marks)
    arr.push_back({{"name", m.name},
                   {"stanza", m.stanza},
                   {"lsn", m.lsn},
                   {"time", format_rfc3339(m.time_ns)}});
  return arr;
}

MarkResult mark(repo::Repository& repo, const MarkOptions& options, const OpContext& ctx) {
  const std::string& name = options.name;
  const std::vector<MarkTarget>& targets = options.targets;
  if (name.empty() || name.size() > 63)
    throw Error(Errc::kUsage, "a restore point name must have 1 to 63 characters");
  if (targets.empty()) throw Error(Errc::kUsage, "mark needs at least one --pg-conn");
  std::vector<std::unique_ptr<pg::Session>> sessions;
  std::vector<std::string> sysids;
  for (const auto& t : targets) {
    repo::validate_stanza(t.stanza);
    ctx.check_cancelled("mark");
    sessions.push_back(pg::Session::connect(t.conninfo));
    sysids.push_back(
        sessions.back()->value("SELECT system_identifier::text FROM pg_control_system()"));
  }
  // All connections are open: create the restore points together.
  std::vector<MarkRecord> out(targets.size());
  std::vector<std::exception_ptr> errors(targets.size());
  std::barrier sync(static_cast<std::ptrdiff_t>(targets.size()));
  {
    std::vector<std::jthread> threads;
    for (size_t i = 0; i < targets.size(); ++i)
      threads.emplace_back([&, i] {
        sync.arrive_and_wait();
        try {
          auto row = sessions[i]->query(
              "SELECT pg_create_restore_point($1)::text, "
              "(extract(epoch FROM clock_timestamp()) * 1000000)::bigint::text",
              {name});
          out[i] = MarkRecord{name, targets[i].stanza, *row[0][0], sysids[i],
                              parse_decimal<int64_t>(*row[0][1], "server clock") * 1000};
        } catch (...) {
          errors[i] = std::current_exception();
        }
      });
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  for (const auto& r : out) {
    json j = {{"name", r.name},       {"stanza", r.stanza},
              {"lsn", r.lsn},         {"system_identifier", r.system_identifier},
              {"time_ns", r.time_ns}, {"time", format_rfc3339(r.time_ns)}};
    // A later mark of the same name replaces the record (as PostgreSQL replays to the first
    // restore point of a name, the record keeps the newest only to pick a recent enough backup).
    repo.save_mark(r.stanza, r.name, j);
  }
  return MarkResult{std::move(out)};
}

std::optional<MarkRecord> find_mark(repo::Repository& repo, const std::string& stanza,
                                    const std::string& name) {
  auto j = repo.load_mark(stanza, name);
  if (!j) return std::nullopt;
  std::string what = "mark " + name + " of stanza " + stanza;
  try {
    return MarkRecord{j->at("name").get<std::string>(), j->at("stanza").get<std::string>(),
                      j->at("lsn").get<std::string>(),
                      j->at("system_identifier").get<std::string>(),
                      json_int<int64_t>(*j, "time_ns", what)};
  } catch (const json::exception&) {
    throw Error(Errc::kCorrupt, what + " is damaged");
  }
}

}  // namespace sr::ops

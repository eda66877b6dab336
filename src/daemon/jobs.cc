#include "daemon/jobs.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "base/error.h"

namespace sr::daemon {

std::vector<std::string> job_arguments(const JobSpec& s, const std::string& config_file) {
  std::vector<std::string> a{s.job, "--config", config_file};
  if (s.job == "backup") {
    a.insert(a.end(), {"--source", s.source});
    if (!s.type.empty()) a.insert(a.end(), {"--type", s.type});
  } else if (s.job == "restore-test") {
    a.insert(a.end(), {"--source", s.source});
    if (s.option == "random") a.push_back("--random-point");
    if (s.option == "immediate") a.push_back("--immediate");
  } else if (s.job == "verify") {
    if (!s.source.empty()) {
      a.insert(a.end(), {"--source", s.source});
    } else {
      a.insert(a.end(), {"--repository", s.repository});
    }
    if (!s.option.empty()) a.insert(a.end(), {"--read-data-subset", s.option});
  } else if (s.job == "expire" || s.job == "prune") {
    a.insert(a.end(), {"--repository", s.repository});
    if (s.job == "expire" && s.option == "prune") a.push_back("--prune");
  } else if (s.job == "replicate") {
    a.insert(a.end(), {"--repository", s.repository, "--to-repository", s.to});
  } else {
    throw Error(Errc::kInternal, "no such job: " + s.job);
  }
  a.push_back("--json");
  return a;
}

std::vector<std::string> stream_arguments(const std::string& source,
                                          const std::string& config_file) {
  return {"stream", "--config", config_file, "--source", source};
}

JobOutcome read_outcome(const std::string& job, const std::string& text) {
  JobOutcome o;
  auto j = nlohmann::json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return o;
  auto num = [&](const nlohmann::json& x, const char* k) -> uint64_t {
    return x.contains(k) && x[k].is_number_unsigned() ? x[k].get<uint64_t>() : 0;
  };
  if (job == "backup") {
    o.bytes = num(j, "added_size");
  } else if (job == "replicate") {
    o.bytes = num(j, "copied_bytes");
  } else if (job == "prune" || job == "expire") {
    const nlohmann::json& p = j.contains("prune") && j["prune"].is_object() ? j["prune"] : j;
    o.bytes = num(p, "freed_bytes");
  } else if (job == "restore-test") {
    o.bytes = num(j, "bytes");
    if (j.contains("passed") && j["passed"].is_boolean() && !j["passed"].get<bool>()) {
      o.error =
          j.contains("error") && j["error"].is_string() && !j["error"].get<std::string>().empty()
              ? j["error"].get<std::string>()
              : "a validation failed";
    }
  }
  return o;
}

JobSpec manual_job(const config::Config& c, const std::string& job, const std::string& source,
                   const std::string& type) {
  static const char* kJobs[] = {"backup", "verify", "restore-test", "expire", "prune", "replicate"};
  if (std::find(std::begin(kJobs), std::end(kJobs), job) == std::end(kJobs))
    throw Error(
        Errc::kUsage,
        "no job '" + job + "' (jobs: backup, verify, restore-test, expire, prune, replicate)");
  JobSpec s;
  s.job = job;
  if (job == "backup" || job == "restore-test" || (job == "verify" && !source.empty())) {
    if (source.empty()) throw Error(Errc::kUsage, job + " needs a source");
    const auto& src = c.source(source);  // kUsage naming the sources
    s.source = src.name;
    s.repository = src.repository;
    if (job == "backup" && src.type == config::SourceType::kPostgres) {
      s.type = type.empty() ? "full" : type;
      if (s.type != "full" && s.type != "diff" && s.type != "incr")
        throw Error(Errc::kUsage, "type: full, diff or incr, not '" + type + "'");
    } else if (!type.empty()) {
      throw Error(Errc::kUsage, "only backups of postgres sources have a type");
    }
    if (job == "restore-test" && src.restore_test) s.option = src.restore_test->target;
    return s;
  }
  if (!type.empty()) throw Error(Errc::kUsage, job + " has no type");
  if (!source.empty()) throw Error(Errc::kUsage, job + " works on a repository, not a source");
  auto take = [&](const std::optional<config::RepositoryJob>& j) {
    s.repository = j ? j->repository : "primary";
    if (j) {
      s.to = j->to;
      s.option = job == "verify" ? j->read_data_subset : job == "expire" && j->prune ? "prune" : "";
    }
  };
  if (job == "verify") take(c.jobs.verify);
  if (job == "expire") take(c.jobs.expire);
  if (job == "prune") take(c.jobs.prune);
  if (job == "replicate") {
    if (!c.jobs.replicate) throw Error(Errc::kUsage, "replicate needs jobs.replicate (from, to)");
    take(c.jobs.replicate);
  }
  c.repository(s.repository);
  return s;
}

JobRequest parse_job_request(std::string_view body) {
  auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.is_object())
    throw Error(Errc::kUsage, "the body is a JSON object: {\"job\": ..., \"source\": ...}");
  JobRequest r;
  for (const auto& [key, value] : j.items()) {
    std::string* field = key == "job"      ? &r.job
                         : key == "source" ? &r.source
                         : key == "type"   ? &r.type
                                           : nullptr;
    if (!field) throw Error(Errc::kUsage, "unknown key in the request (known: job, source, type)");
    if (value.is_null()) continue;
    if (!value.is_string()) throw Error(Errc::kUsage, key + " is a string");
    *field = value.get<std::string>();
    if (field->size() > 256) throw Error(Errc::kUsage, key + " is too long");
  }
  if (r.job.empty()) throw Error(Errc::kUsage, "job is required");
  return r;
}

}  // namespace sr::daemon

// config/config.h: the configuration file (strongroom.yaml) as typed settings.
//
// parse_config() reads YAML text (yaml-cpp) and validates all of it before anything runs: unknown
// keys, duplicate keys (yaml-cpp keeps both silently; we refuse them), wrong types, bad
// durations, bad cron expressions, references to repositories that are not defined. Every error
// is Error{kUsage} "FILE:LINE:COLUMN: KEY.PATH: what is wrong", e.g.
//   strongroom.yaml:14:5: sources.accounts.verify.max_agee: unknown key (known here: max_age,
//   max_wal_lag)
// docs/configuration.md documents every key. Secrets are never inline: a repository's password
// and object-store credentials are named by file (`*_file`) or environment variable (`*_env`);
// app/ resolves them. This layer reads no environment.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/schedule.h"

namespace sr::config {

// Where a secret comes from: a file or an environment variable (at most one is set).
struct SecretRef {
  std::string file, env;
  bool empty() const { return file.empty() && env.empty(); }
};

struct S3Config {
  std::string region, endpoint;
  SecretRef access_key_id, secret_access_key, session_token;
};

struct AzureConfig {
  std::string account, endpoint;
  SecretRef key, sas_token, connection_string;
};

struct RepositoryLimits {
  unsigned parallelism = 0;     // object-store transfers in flight (0: default)
  uint64_t part_size = 0;       // multipart part size (0: default)
  int64_t retry_for = -1;       // seconds of retries per request (-1: default)
  int64_t connect_timeout = 0;  // seconds (0: default)
  int64_t stall_timeout = 0;    // seconds (0: default)
};

struct RepositoryConfig {
  std::string name;
  int line = 0;
  std::string url;
  SecretRef password;    // password_file / password_env
  std::string key_file;  // a key file instead of a password (machines)
  std::string ca_file;
  std::string replicate_from;  // the repository this one is a replica of ("" if none)
  std::optional<S3Config> s3;
  std::optional<AzureConfig> azure;
  RepositoryLimits limits;
  double cost_per_gib_month = 0;  // for the estimated monthly cost
};

// Retention rules (docs/configuration.md, "retention"). A backup is kept when any rule keeps it;
// what a kept backup needs (its full and the chain between, the WAL of the PITR window) is kept
// with it. No rule at all keeps everything.
struct RetentionRule {
  std::optional<int64_t> keep_within;  // seconds: every backup younger than this
  int keep_last = 0, keep_hourly = 0, keep_daily = 0, keep_weekly = 0, keep_monthly = 0,
      keep_yearly = 0;
  std::vector<std::string> keep_tags;  // every backup carrying one of these tags
  std::optional<int64_t> pitr_window;  // PostgreSQL: seconds of point-in-time recovery kept
  bool any() const;
};

enum class SourceType { kPostgres, kFiles, kCommand };
std::string to_string(SourceType type);

struct ScheduleConfig {
  std::string type;  // postgres: full | diff | incr; files/command: "" (a backup)
  CronSchedule cron;
};

// One restore-test validation query and what its result must be.
struct Validation {
  std::string name, query;
  std::string database;  // postgres: the database to run it in ("" = postgres)
  // "= 500000", "> 0", ">= 10", "< 5", "<= 5", "!= 0", a bare literal (equality), or "source":
  // the same query run on the live source with :target_time bound to the recovery target.
  std::string expect;
};

struct VerifyRules {
  int64_t max_age = 25 * 3600;         // seconds: the newest backup must be younger
  std::optional<int64_t> max_wal_lag;  // seconds: the newest WAL must be younger (default: rpo)
};

// Daemon (strongroom serve; docs/daemon.md): a source's scheduled restore test.
struct RestoreTestSchedule {
  CronSchedule cron;
  std::string target = "latest";  // latest | random | immediate
};

// Alert thresholds a source may override (docs/daemon.md, "Alerts").
struct SourceAlerts {
  std::optional<double> size_change;  // share against the median, e.g. 0.5
  std::optional<int> size_median_of;  // backups of the same type in the median
  std::vector<std::string> disabled;  // rule names not evaluated for this source
};

struct SourceConfig {
  std::string name;
  int line = 0;
  SourceType type = SourceType::kFiles;
  std::string kind;  // database | configuration | infrastructure | certificates | volume | export
  std::string repository = "primary";
  std::vector<std::string> tags;
  std::string host;  // recorded in the backups (default: this host)
  // postgres
  std::string stanza, pg_data, pg_conn;
  // files
  std::vector<std::string> paths;
  // command
  std::string command, output_name;  // output_name: the name of the output (default: name)
  std::vector<ScheduleConfig> schedules;
  VerifyRules verify;
  std::vector<Validation> validate;
  std::optional<int64_t> rpo, rto;  // seconds
  std::optional<RetentionRule> retention;
  double row_count_tolerance = 0.1;  // restore tests: row counts against the backup's estimates
  // daemon
  bool stream = false;  // postgres: keep `strongroom stream` running
  std::optional<RestoreTestSchedule> restore_test;
  SourceAlerts alerts;
};

struct ServerConfig {
  std::string listen = "127.0.0.1:8920";
  std::string token_file;         // required by serve
  std::string tls_cert, tls_key;  // both or neither
  std::string state_dir = "/var/lib/strongroom";
  int max_concurrent_jobs = 2;
  int64_t missed_run_grace = 3600;  // seconds
  int64_t shutdown_timeout = 300;   // seconds
  int64_t refresh_every = 60;       // seconds
};

// Repository-wide jobs of the daemon; an absent one is not scheduled.
struct RepositoryJob {
  CronSchedule cron;
  std::string repository = "primary";  // verify/expire/prune: the repository; replicate: from
  std::string to;                      // replicate: the target repository
  std::string read_data_subset;        // verify: e.g. "5%"
  bool prune = false;                  // expire: prune in the same run
};

struct JobsConfig {
  std::optional<RepositoryJob> verify, expire, prune, replicate;
};

// Where notifications go (notify: NAME: ...): exactly one of webhook, command, email.
struct NotifierConfig {
  std::string name;
  std::string webhook_url;  // or webhook_url_file (a URL holding a token is a secret)
  std::string webhook_url_file;
  std::string command;  // run with the alert as JSON on standard input
  struct Email {
    std::string smtp_url;  // smtp://host:25, smtps://host:465 (smtp:// upgrades with STARTTLS)
    std::string from;
    std::vector<std::string> to;
    SecretRef username, password;
  };
  std::optional<Email> email;
};

struct AlertRoute {
  std::vector<std::string> severities, sources, rules;  // empty: any
  std::vector<std::string> notify;                      // notifier names
};

struct AlertsConfig {
  int64_t repeat_every = 4 * 3600;     // seconds: a firing alert is sent again after this
  double size_change = 0.5;            // runbook: size changed by more than 50 %
  int size_median_of = 7;              // against the median of the last N of that source and type
  int64_t replication_max_lag = 3600;  // seconds
  std::vector<AlertRoute> routes;      // every matching route notifies
};

struct Config {
  std::string file;
  std::map<std::string, RepositoryConfig> repositories;
  std::vector<SourceConfig> sources;               // in file order
  std::map<std::string, RetentionRule> retention;  // per kind
  int64_t prune_grace = 3600;                      // seconds (prune.grace)
  double prune_max_unused = 0.10;                  // prune.max_unused
  ServerConfig server;
  JobsConfig jobs;
  AlertsConfig alerts;
  std::map<std::string, NotifierConfig> notify;

  // Throw Error{kUsage} naming the known names when there is no such entry.
  const SourceConfig& source(const std::string& name) const;
  const RepositoryConfig& repository(const std::string& name) const;
  // The source's own retention, else its kind's, else none (keep everything).
  RetentionRule retention_for(const SourceConfig& source) const;
};

Config parse_config(const std::string& text, const std::string& file);
// Reads FILE (kUsage when it cannot be read) and parses it.
Config load_config(const std::string& path);

extern const char* const kSourceKinds[6];
// The daemon's built-in alert rules (docs/daemon.md, "Alerts").
extern const char* const kAlertRules[10];

}  // namespace sr::config

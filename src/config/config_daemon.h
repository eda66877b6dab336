// config/config_daemon.h: the daemon's part of the configuration file (server, jobs, alerts,
// notify, and a source's stream / restore_test / alerts keys), read by parse_config. Internal to
// the config layer: kept apart from config.cc so that each file reads on its own.
#pragma once

#include "config/config.h"
#include "config/yaml_reader.h"

namespace sr::config {

// A cron expression (UTC) that fires at least once in four years.
CronSchedule parse_cron(const yaml_reader::Value& v);
// The daemon keys of one source (called before the source's Map is finished).
void parse_source_daemon_keys(yaml_reader::Map& m, SourceConfig& s);
// server:, jobs:, alerts:, notify: (called before the top-level Map is finished).
void parse_daemon_sections(yaml_reader::Map& top, Config& c);
// References between them and the rest (repositories, sources, notifiers).
void check_daemon_references(const Config& c);

}  // namespace sr::config

// app/storage_env.h: storage and repository settings from the environment (the only place
// below the CLI's option parsing that reads it for storage; see storage/settings.h).
//
// Variables, names and defaults as documented in docs/user-guide.md:
//   S3:    AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, AWS_REGION or
//          AWS_DEFAULT_REGION, AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL
//   Azure: AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with AZURE_STORAGE_KEY or
//          AZURE_STORAGE_SAS_TOKEN, AZURE_STORAGE_ENDPOINT, AZURE_STORAGE_ENDPOINT_SUFFIX
//   Transfer: STRONGROOM_MULTIPART_THRESHOLD (64M), STRONGROOM_MULTIPART_PART_SIZE (16M, at
//          least 5M), STRONGROOM_TRANSFER_PARALLELISM (4, 1..64), STRONGROOM_LIST_PAGE_SIZE
//          (1000, 1..5000), STRONGROOM_STAGING_DIR or TMPDIR
//   HTTP:  STRONGROOM_RETRY_SECONDS (120; 0 disables retries), STRONGROOM_HTTP_CONNECT_TIMEOUT
//          (10), STRONGROOM_HTTP_STALL_SECONDS (30), STRONGROOM_HTTP_TRACE
//   TLS:   the CA bundle: the --ca-file option (`ca_file` below), else AWS_CA_BUNDLE (s3://
//          only), else SSL_CERT_FILE; unset → the system's CAs. Checked readable when opened.
//   Cache: STRONGROOM_CACHE_DIR, else $XDG_CACHE_HOME/strongroom, else ~/.cache/strongroom
// Only an object-store URL (s3://, azure://) reads the object-store variables, as before: a
// local repository is not refused for a malformed STRONGROOM_MULTIPART_PART_SIZE. Bad values
// throw Errc::kUsage naming the variable (never its value when it is a secret).
#pragma once

#include <string>

#include "app/common.h"
#include "config/config.h"
#include "repo/repository.h"
#include "storage/settings.h"
#include "storage/storage.h"

namespace sr::app {

// The CA bundle a command uses for `url` given its --ca-file option `flag` (as above), as an
// absolute path, and where it came from ("--ca-file", "AWS_CA_BUNDLE", "SSL_CERT_FILE");
// {"", ""} when none.
std::pair<std::string, std::string> effective_ca_file(const std::string& url,
                                                      const std::string& flag);

// `ca_file`: the --ca-file option ("" when not given), which wins over the environment.
// `configured`: the configuration file's repository, whose settings win over the environment
// (its secrets are read from the files or variables it names).
storage::StorageSettings storage_settings_from_env(
    const std::string& url, const std::string& ca_file = "",
    const config::RepositoryConfig* configured = nullptr);
repo::RepoOptions repo_options_from_env();
// open_storage(url, storage_settings_from_env(url, ca_file)), warnings (plain HTTP to a host
// that is not loopback) on a CLI logger (make_cli_logger).
std::unique_ptr<storage::Storage> open_storage_from_env(
    const std::string& url, const std::string& ca_file = "",
    const config::RepositoryConfig* configured = nullptr);
// The value of a configured secret: the file's first line or the variable's value; kUsage
// naming the file or variable (never the value) when missing or empty.
std::string read_secret(const config::SecretRef& ref, const std::string& what);

// What a restored PostgreSQL server's restore_command needs to reach the repository as this
// command did: the absolute URL, key or password file, CA bundle, this executable, and the
// configuration file when the repository came from one (restore, restore-test).
template <typename Options>
void set_restore_command_settings(const RepoArgs& a, Options& o) {
  o.repo_url = absolute_repo_url(a);
  o.key_file = key_file_path(a);
  if (o.key_file.empty()) o.password_file = password_file_path(a);
  o.ca_file = effective_ca_file(o.repo_url, a.ca_file).first;
  o.self_exe = self_exe();
  if (a.repo_config) {
    o.config_file = absolute_path(a.config_file);
    if constexpr (requires { o.config_repository; }) o.config_repository = a.repository;
  }
}

}  // namespace sr::app

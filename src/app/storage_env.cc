#include "app/storage_env.h"

#include <limits.h>
#include <unistd.h>

#include <cstdlib>

#include "app/common.h"
#include "app/terminal.h"
#include "base/error.h"
#include "storage/transfer.h"

namespace sr::app {

storage::StorageSettings storage_settings_from_env_only(const std::string& url,
                                                        const std::string& ca_file);

namespace {

long env_seconds(const char* name, long fallback) {
  std::string v = env(name);
  if (v.empty()) return fallback;
  char* end = nullptr;
  long n = std::strtol(v.c_str(), &end, 10);
  if (*end != '\0' || n <= 0)
    throw Error(Errc::kUsage,
                std::string(name) + " must be a positive number of seconds, got '" + v + "'");
  return n;
}

storage::S3Settings s3_from_env() {
  storage::S3Settings s;
  s.access_key_id = env("AWS_ACCESS_KEY_ID");
  s.secret_access_key = env("AWS_SECRET_ACCESS_KEY");
  s.session_token = env("AWS_SESSION_TOKEN");
  s.region = env("AWS_REGION");
  if (s.region.empty()) s.region = env("AWS_DEFAULT_REGION");
  s.endpoint = env("AWS_ENDPOINT_URL_S3");
  s.endpoint_name = "AWS_ENDPOINT_URL_S3";
  if (s.endpoint.empty()) {
    s.endpoint = env("AWS_ENDPOINT_URL");
    s.endpoint_name = "AWS_ENDPOINT_URL";
  }
  return s;
}

storage::AzureSettings azure_from_env() {
  storage::AzureSettings s;
  s.connection_string = env("AZURE_STORAGE_CONNECTION_STRING");
  s.account = env("AZURE_STORAGE_ACCOUNT");
  s.key = env("AZURE_STORAGE_KEY");
  s.sas_token = env("AZURE_STORAGE_SAS_TOKEN");
  s.endpoint = env("AZURE_STORAGE_ENDPOINT");
  s.endpoint_suffix = env("AZURE_STORAGE_ENDPOINT_SUFFIX");
  return s;
}

storage::TransferSettings transfer_from_env() {
  storage::TransferSettings o;
  if (std::string v = env("STRONGROOM_MULTIPART_THRESHOLD"); !v.empty())
    o.multipart_threshold = storage::parse_size(v, "STRONGROOM_MULTIPART_THRESHOLD");
  if (std::string v = env("STRONGROOM_MULTIPART_PART_SIZE"); !v.empty())
    o.part_size = storage::parse_size(v, "STRONGROOM_MULTIPART_PART_SIZE");
  if (o.part_size < (5ull << 20))
    throw Error(Errc::kUsage, "STRONGROOM_MULTIPART_PART_SIZE must be at least 5M");
  if (std::string v = env("STRONGROOM_TRANSFER_PARALLELISM"); !v.empty()) {
    uint64_t p = storage::parse_size(v, "STRONGROOM_TRANSFER_PARALLELISM");
    if (p < 1 || p > 64)
      throw Error(Errc::kUsage, "STRONGROOM_TRANSFER_PARALLELISM must be between 1 and 64");
    o.parallelism = static_cast<unsigned>(p);
  }
  if (std::string v = env("STRONGROOM_LIST_PAGE_SIZE"); !v.empty()) {
    uint64_t n = storage::parse_size(v, "STRONGROOM_LIST_PAGE_SIZE");
    if (n < 1 || n > 5000)
      throw Error(Errc::kUsage, "STRONGROOM_LIST_PAGE_SIZE must be between 1 and 5000");
    o.list_page_size = static_cast<unsigned>(n);
  }
  o.staging_dir = env("STRONGROOM_STAGING_DIR");
  if (std::string tmp = env("TMPDIR"); !tmp.empty()) o.temp_dir = tmp;
  return o;
}

void ca_file_from(const std::string& url, const std::string& flag, storage::HttpSettings& o) {
  auto [file, from] = effective_ca_file(url, flag);
  o.ca_file = file;
  o.ca_file_from = from;
}

storage::HttpSettings http_from_env() {
  storage::HttpSettings o;
  if (std::string v = env("STRONGROOM_RETRY_SECONDS"); !v.empty()) {
    char* end = nullptr;
    double s = std::strtod(v.c_str(), &end);
    if (*end != '\0' || s < 0)
      throw Error(Errc::kUsage,
                  "STRONGROOM_RETRY_SECONDS must be a number of seconds, got '" + v + "'");
    o.retry.budget_seconds = s;
  }
  o.connect_timeout_seconds = env_seconds("STRONGROOM_HTTP_CONNECT_TIMEOUT", 10);
  o.stall_seconds = env_seconds("STRONGROOM_HTTP_STALL_SECONDS", 30);
  std::string t = env("STRONGROOM_HTTP_TRACE");
  o.trace = !t.empty() && t != "0";
  return o;
}

}  // namespace

std::string read_secret(const config::SecretRef& ref, const std::string& what) {
  if (!ref.file.empty()) return read_secret_file(ref.file, what + " file " + ref.file);
  std::string v = env(ref.env.c_str());
  if (v.empty())
    throw Error(Errc::kUsage, what + ": the configuration names the environment variable " +
                                  ref.env + ", which is not set");
  return v;
}

namespace {

// The configuration file's settings over those of the environment.
void apply_configured(const config::RepositoryConfig& c, storage::StorageSettings& s) {
  const std::string where = "repository " + c.name;
  if (c.s3) {
    if (!c.s3->region.empty()) s.s3.region = c.s3->region;
    if (!c.s3->endpoint.empty()) {
      s.s3.endpoint = c.s3->endpoint;
      s.s3.endpoint_name = where + " s3.endpoint";
    }
    if (!c.s3->access_key_id.empty())
      s.s3.access_key_id = read_secret(c.s3->access_key_id, where + " s3.access_key_id");
    if (!c.s3->secret_access_key.empty())
      s.s3.secret_access_key =
          read_secret(c.s3->secret_access_key, where + " s3.secret_access_key");
    if (!c.s3->session_token.empty())
      s.s3.session_token = read_secret(c.s3->session_token, where + " s3.session_token");
  }
  if (c.azure) {
    // The file's account settings replace a connection string from the environment.
    if (c.azure->connection_string.empty() &&
        (!c.azure->account.empty() || !c.azure->key.empty() || !c.azure->sas_token.empty()))
      s.azure.connection_string.clear();
    if (!c.azure->account.empty()) s.azure.account = c.azure->account;
    if (!c.azure->endpoint.empty()) s.azure.endpoint = c.azure->endpoint;
    if (!c.azure->key.empty()) s.azure.key = read_secret(c.azure->key, where + " azure.key");
    if (!c.azure->sas_token.empty())
      s.azure.sas_token = read_secret(c.azure->sas_token, where + " azure.sas_token");
    if (!c.azure->connection_string.empty())
      s.azure.connection_string =
          read_secret(c.azure->connection_string, where + " azure.connection_string");
  }
  if (c.limits.parallelism) s.transfer.parallelism = c.limits.parallelism;
  if (c.limits.part_size) s.transfer.part_size = c.limits.part_size;
  if (c.limits.retry_for >= 0)
    s.http.retry.budget_seconds = static_cast<double>(c.limits.retry_for);
  if (c.limits.connect_timeout) s.http.connect_timeout_seconds = c.limits.connect_timeout;
  if (c.limits.stall_timeout) s.http.stall_seconds = c.limits.stall_timeout;
}

}  // namespace

storage::StorageSettings storage_settings_from_env(const std::string& url,
                                                   const std::string& ca_file,
                                                   const config::RepositoryConfig* configured) {
  storage::StorageSettings s = storage_settings_from_env_only(url, ca_file);
  if (configured != nullptr && url.find("://") != std::string::npos && url.rfind("file://", 0) != 0)
    apply_configured(*configured, s);
  return s;
}

storage::StorageSettings storage_settings_from_env_only(const std::string& url,
                                                        const std::string& ca_file) {
  storage::StorageSettings s;
  if (url.rfind("s3://", 0) == 0) {
    s.s3 = s3_from_env();
  } else if (url.rfind("azure://", 0) == 0) {
    s.azure = azure_from_env();
  } else {
    return s;  // a local repository: no object-store settings
  }
  s.transfer = transfer_from_env();
  s.http = http_from_env();
  ca_file_from(url, ca_file, s.http);
  return s;
}

repo::RepoOptions repo_options_from_env() {
  repo::RepoOptions o;
  if (std::string d = env("STRONGROOM_CACHE_DIR"); !d.empty())
    o.cache_dir = d;
  else if (std::string x = env("XDG_CACHE_HOME"); !x.empty())
    o.cache_dir = x + "/strongroom";
  else if (std::string h = env("HOME"); !h.empty())
    o.cache_dir = h + "/.cache/strongroom";
  static const auto repository_log = make_cli_logger(false);  // rollback warnings (stderr)
  o.log = repository_log.get();
  return o;
}

std::unique_ptr<storage::Storage> open_storage_from_env(
    const std::string& url, const std::string& ca_file,
    const config::RepositoryConfig* configured) {
  // Storage is opened before (and apart from) a command's CommandRun: its warnings (plain HTTP)
  // go to a logger of the CLI's own, kept for the process.
  static const std::unique_ptr<log::Logger> logger = make_cli_logger(false);
  return storage::open_storage(url, storage_settings_from_env(url, ca_file, configured),
                               logger.get());
}

// --ca-file, else AWS_CA_BUNDLE (s3:// only, as the AWS CLI), else SSL_CERT_FILE; relative
// paths are made absolute (the file is opened by libcurl on every connection).
std::pair<std::string, std::string> effective_ca_file(const std::string& url,
                                                      const std::string& flag) {
  std::string from = "--ca-file";
  std::string file = flag;
  if (file.empty() && url.rfind("s3://", 0) == 0) {
    file = env("AWS_CA_BUNDLE");
    from = "AWS_CA_BUNDLE";
  }
  if (file.empty()) {
    file = env("SSL_CERT_FILE");
    from = "SSL_CERT_FILE";
  }
  if (file.empty()) return {};
  if (file.front() != '/') {
    char cwd[PATH_MAX];
    if (::getcwd(cwd, sizeof cwd)) file = std::string(cwd) + "/" + file;
  }
  return {file, from};
}

}  // namespace sr::app

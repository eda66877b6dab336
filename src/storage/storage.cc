#include "storage/storage.h"

#include <unistd.h>

#include "base/fs.h"
#include "storage/azure_storage.h"
#include "storage/local_storage.h"
#include "storage/s3_storage.h"
#include "storage/transport_security.h"

namespace sr::storage {

void Storage::put_file(const std::string& key, const std::string& path, bool if_absent) {
  Bytes data = read_file(path);
  put(key, data, if_absent);
  ::unlink(path.c_str());
}

std::optional<Bytes> get_if_exists(Storage& storage, const std::string& key) {
  try {
    return storage.get(key);
  } catch (const Error& e) {
    if (e.code() == Errc::kNotFound) return std::nullopt;
    throw;
  }
}

std::unique_ptr<Storage> open_storage(const std::string& url, const StorageSettings& settings,
                                      log::Logger* log) {
  if (url.empty())
    throw Error(Errc::kUsage, "no repository given: use --repo or STRONGROOM_REPOSITORY");
  log::Logger& warn_to = log ? *log : log::null_logger();
  if (url.rfind("s3://", 0) == 0) {
    S3Config config = S3Config::resolve(url, settings.s3);
    check_ca_file(settings.http);
    warn_if_plain_http(
        config.endpoint, "s3",
        "the signed requests (access key id, signatures" +
            std::string(config.credentials.session_token.empty() ? ")" : ", the session token)") +
            " and object names",
        warn_to);
    return std::make_unique<S3Storage>(std::move(config), settings.http, settings.transfer);
  }
  if (url.rfind("azure://", 0) == 0) {
    AzureConfig config = AzureConfig::resolve(url, settings.azure);
    check_ca_file(settings.http);
    warn_if_plain_http(config.endpoint, "azure",
                       std::string(config.sas.empty() ? "the Shared Key signed requests"
                                                      : "the SAS token (a bearer credential)") +
                           " and blob names",
                       warn_to);
    return std::make_unique<AzureStorage>(std::move(config), settings.http, settings.transfer);
  }
  std::string path = url;
  if (url.rfind("file://", 0) == 0) {
    path = url.substr(7);
  } else if (auto p = url.find("://"); p != std::string::npos) {
    throw Error(
        Errc::kUsage,
        "unsupported repository URL scheme '" + url.substr(0, p) +
            "' (supported: a path, file:///path, s3://BUCKET/PREFIX, azure://CONTAINER/PREFIX)");
  }
  if (path.empty()) throw Error(Errc::kUsage, "repository URL '" + url + "' has no path");
  return std::make_unique<LocalStorage>(path);
}

}  // namespace sr::storage

#include "storage/storage.h"

#include <unistd.h>

#include "base/fs.h"
#include "storage/azure_storage.h"
#include "storage/local_storage.h"
#include "storage/s3_storage.h"

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

std::unique_ptr<Storage> open_storage(const std::string& url, const StorageSettings& settings) {
  if (url.empty())
    throw Error(Errc::kUsage, "no repository given: use --repo or STRONGROOM_REPOSITORY");
  if (url.rfind("s3://", 0) == 0)
    return std::make_unique<S3Storage>(S3Config::resolve(url, settings.s3), settings.http,
                                       settings.transfer);
  if (url.rfind("azure://", 0) == 0)
    return std::make_unique<AzureStorage>(AzureConfig::resolve(url, settings.azure), settings.http,
                                          settings.transfer);
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

// storage/azure_storage.h: the Storage contract on Azure Blob Storage (block blobs).
//
// Objects are CONTAINER/PREFIX/KEY. Small objects go up with one Put Blob; files above the
// multipart threshold are staged as blocks (Put Block, in parallel, bounded) and published by
// Put Block List — uncommitted blocks are never visible and Azure discards them after a week, so a
// failed upload leaves nothing behind that a reader could see. Requests are signed with Shared
// Key (azure_shared_key.h) or carry a SAS token.
//
// if_absent sends If-None-Match: * (Azure and Azurite honour it: 409/412 → Errc::kAlreadyExists).
// Every blob carries its SHA-256 as metadata (x-ms-meta-srsha256): a retried put that meets
// "already exists" compares it to tell its own earlier, unanswered attempt from another writer.
// The container is created on demand (create_if_missing, or the first put that meets
// ContainerNotFound). Thread-safe.
#pragma once

#include <mutex>

#include "storage/azure_config.h"
#include "storage/http_client.h"
#include "storage/storage.h"
#include "storage/transfer.h"

namespace sr::storage {

class AzureStorage final : public Storage {
 public:
  AzureStorage(AzureConfig config, HttpSettings http, const TransferSettings& transfer);
  ~AzureStorage() override;
  std::string describe() const override;
  bool supports_conditional_put() const override { return true; }
  void put(const std::string& key, ByteSpan data, bool if_absent) override;
  void put_file(const std::string& key, const std::string& path, bool if_absent) override;
  Bytes get(const std::string& key, uint64_t offset, std::optional<uint64_t> length) override;
  std::optional<ObjectInfo> stat(const std::string& key) override;
  void list(const std::string& prefix,
            const std::function<void(const ObjectInfo&)>& visit) override;
  void remove(const std::string& key) override;
  std::string staging_dir() override;
  void create_if_missing() override;

 private:
  struct Call {
    std::string method;
    std::string key;  // blob key below the prefix; empty for container-level calls
    QueryParams query;
    HeaderList headers;
    HttpBody body;
  };
  HttpResponse call(const Call& c) const;
  [[noreturn]] void fail(const Call& c, const HttpResponse& r) const;
  std::string what(const Call& c) const;
  std::string error_code(const HttpResponse& r) const;
  HttpResponse upload(const std::string& key, const HttpBody& body, const std::string& sha256,
                      bool if_absent);
  HttpResponse upload_blocks(const std::string& key, const std::string& path, uint64_t size,
                             const HeaderList& publish_headers);
  void finish_put(const std::string& key, const HttpBody& body, const std::string& sha256,
                  bool if_absent);

  AzureConfig config_;
  HttpClient http_;
  TransferSettings transfer_;
  std::once_flag staging_once_;
  std::string staging_;
};

}  // namespace sr::storage

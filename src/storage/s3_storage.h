// storage/s3_storage.h: the Storage contract on S3 and S3-compatible stores (Signature V4).
//
// Objects are BUCKET/PREFIX/KEY. put sends one PUT with the real SHA-256 of the body as
// x-amz-content-sha256 (streamed from the file for put_file). Files above the multipart threshold
// use a multipart upload: parts uploaded in parallel (bounded), published by
// CompleteMultipartUpload — S3 makes nothing visible before that — and aborted on failure (an
// abort that fails, like s3rver's 405, leaves only invisible parts for a lifecycle rule).
//
// if_absent sends If-None-Match: * (AWS honours it since 2024; 412 → Errc::kAlreadyExists). Other
// stores may ignore it, so supports_conditional_put() is true only without a custom endpoint; the
// repository never relies on it. Every object carries its SHA-256 as x-amz-meta-sr-sha256: when a
// retried put meets 412, its own earlier attempt may have landed, and equal hashes prove it.
// The bucket is created on demand (create_if_missing, or the first put that meets NoSuchBucket).
// Thread-safe.
#pragma once

#include <mutex>

#include "storage/http_client.h"
#include "storage/s3_config.h"
#include "storage/storage.h"
#include "storage/transfer.h"

namespace sr::storage {

class S3Storage final : public Storage {
 public:
  S3Storage(S3Config config, HttpSettings http, const TransferSettings& transfer);
  ~S3Storage() override;
  std::string describe() const override;
  bool supports_conditional_put() const override { return !config_.custom_endpoint; }
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
    std::string key;  // object key below the prefix; empty for bucket-level calls
    bool bucket_level = false;
    QueryParams query;
    HeaderList headers;
    HttpBody body;
    std::string payload_hash;  // "" → hash of the memory body
  };
  HttpResponse call(const Call& c, const std::function<bool()>& landed = nullptr) const;
  [[noreturn]] void fail(const Call& c, const HttpResponse& r) const;
  std::string object_path(const std::string& key) const;
  std::string what(const Call& c) const;
  // PUT or multipart upload; returns the final response of the publishing request.
  HttpResponse upload(const std::string& key, const HttpBody& body, const std::string& sha256,
                      bool if_absent);
  HttpResponse multipart(const std::string& key, const std::string& path, uint64_t size,
                         const std::string& sha256, bool if_absent);
  void finish_put(const std::string& key, const HttpBody& body, const std::string& sha256,
                  bool if_absent);

  S3Config config_;
  HttpClient http_;
  TransferSettings transfer_;
  std::once_flag staging_once_;
  std::string staging_;
};

}  // namespace sr::storage

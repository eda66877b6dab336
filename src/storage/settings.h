// storage/settings.h: everything a storage backend is configured with, as plain values.
//
// Nothing below src/app/ reads the environment: app/ (from the environment today, from a
// configuration file later) fills a StorageSettings and hands it to open_storage(url, settings).
// One process can therefore hold several storages with different credentials, endpoints and
// limits. Defaults are the documented ones (docs/user-guide.md); an empty string means "not set".
//
// Secrets (S3 secret key and session token, Azure account key, SAS token and connection string)
// are only ever passed to the backends: describe() prints which ones are set, never their values.
// Plain values: copyable, no invariants beyond validate(); thread-safe to read.
#pragma once

#include <cstdint>
#include <string>

#include "storage/retry_policy.h"

namespace sr::storage {

// S3 and S3-compatible stores (s3://BUCKET[/PREFIX]).
struct S3Settings {
  std::string access_key_id;
  std::string secret_access_key;  // secret
  std::string session_token;      // secret; temporary credentials
  std::string region;             // "" → us-east-1
  // MinIO, Ceph, s3rver…: requests use path-style addressing. "" → AWS, virtual-hosted style.
  std::string endpoint;
  std::string endpoint_name = "the S3 endpoint";  // what to call `endpoint` in messages
  std::string describe() const;
};

// Azure Blob Storage (azure://CONTAINER[/PREFIX]). A non-empty connection_string wins over the
// separate fields (the Azure CLI's rule).
struct AzureSettings {
  std::string connection_string;  // secret: may hold AccountKey or SharedAccessSignature
  std::string account;
  std::string key;              // secret, base64
  std::string sas_token;        // secret, with or without the leading '?'
  std::string endpoint;         // the blob endpoint URL; "" → https://ACCOUNT.blob.SUFFIX
  std::string endpoint_suffix;  // "" → core.windows.net
  std::string describe() const;
};

// Moving large objects and listing (see transfer.h).
struct TransferSettings {
  uint64_t multipart_threshold = 64ull << 20;  // larger put_file inputs go up in parts
  uint64_t part_size = 16ull << 20;            // at least 5 MiB (S3's minimum part)
  unsigned parallelism = 4;                    // parts in flight per object, 1..64
  unsigned list_page_size = 1000;              // objects per listing request, 1..5000
  // A fixed staging directory, used as is and never removed; "" → a private one created below
  // temp_dir (strongroom-staging-<pid>, removed when empty).
  std::string staging_dir;
  std::string temp_dir = "/tmp";
  // Throws Errc::kUsage naming the first value out of range.
  void validate() const;
  std::string describe() const;
};

using RetrySettings = RetryPolicy;  // budget and backoff (retry_policy.h)

struct HttpSettings {
  RetrySettings retry;
  long connect_timeout_seconds = 10;
  long stall_seconds = 30;  // a transfer that moves nothing this long is aborted and retried
  bool trace = false;       // one line per attempt on stderr, secrets redacted
  // A PEM bundle of the CAs to trust instead of the system's (CURLOPT_CAINFO); "" → the system
  // bundle. Verification itself is never switched off (transport_security.h).
  std::string ca_file;
  std::string ca_file_from = "the CA file setting";  // where ca_file came from, for messages
  std::string describe() const;
};

struct StorageSettings {
  S3Settings s3;
  AzureSettings azure;
  TransferSettings transfer;
  HttpSettings http;
  std::string describe() const;
};

}  // namespace sr::storage

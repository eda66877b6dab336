#include "storage/azure_storage.h"

#include <unistd.h>

#include <cstdio>
#include <ctime>
#include <optional>

#include "base/error.h"
#include "storage/azure_shared_key.h"
#include "storage/digest.h"
#include "storage/xml_util.h"

namespace sr::storage {
namespace {

const char* kVersion = "2021-08-06";
const char* kShaMeta = "x-ms-meta-srsha256";

struct Unlinker {
  std::string path;
  ~Unlinker() { ::unlink(path.c_str()); }
};

// Block ids must all have the same length within a blob.
std::string block_id(uint64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "sr-block-%08llu", static_cast<unsigned long long>(i));
  return base64_encode(as_bytes(buf));
}

}  // namespace

AzureStorage::AzureStorage(AzureConfig config, HttpSettings http, const TransferSettings& transfer)
    : config_(std::move(config)), http_(std::move(http)), transfer_(transfer) {
  transfer_.validate();
}

AzureStorage::~AzureStorage() { remove_staging_dir(staging_, transfer_); }

std::string AzureStorage::describe() const {
  return "azure://" + config_.container + (config_.prefix.empty() ? "" : "/" + config_.prefix);
}

std::string AzureStorage::staging_dir() {
  std::call_once(staging_once_, [this] { staging_ = make_staging_dir(transfer_); });
  return staging_;
}

std::string AzureStorage::what(const Call& c) const {
  return "azure: " + c.method + " " + (c.key.empty() ? "container " + config_.container : c.key);
}

HttpResponse AzureStorage::call(const Call& c) const {
  std::string path = config_.endpoint.base_path + "/" + config_.container;
  if (!c.key.empty()) path += "/" + (config_.prefix.empty() ? c.key : config_.prefix + "/" + c.key);
  std::string encoded_path = uri_encode(path, /*keep_slash=*/true);
  std::string query = encode_query(c.query);
  if (!config_.sas.empty() && config_.key.empty())
    query += (query.empty() ? "" : "&") + config_.sas;
  HttpRequest req;
  req.method = c.method;
  req.url = config_.endpoint.origin() + encoded_path + (query.empty() ? "" : "?" + query);
  req.body = c.body;
  const bool has_body = c.method == "PUT" || c.method == "POST";
  auto sign = [&](HttpRequest& r) {
    r.headers = c.headers;
    r.headers.emplace_back("x-ms-date", rfc1123_date(static_cast<int64_t>(std::time(nullptr))));
    r.headers.emplace_back("x-ms-version", kVersion);
    if (config_.key.empty()) return;  // SAS: the token in the query authorises
    AzureSignInput in{c.method, config_.account, encoded_path,
                      c.query,  r.headers,       has_body ? c.body.size() : 0};
    r.headers.emplace_back("Authorization", azure_authorization(config_.account, config_.key,
                                                                azure_string_to_sign(in)));
  };
  return http_.send(req, sign, what(c));
}

std::string AzureStorage::error_code(const HttpResponse& r) const {
  std::string code = r.header("x-ms-error-code");
  return code.empty() ? parse_xml_error(r.body).code : code;
}

void AzureStorage::fail(const Call& c, const HttpResponse& r) const {
  XmlError e = parse_xml_error(r.body);
  std::string code_text = error_code(r);
  std::string msg = what(c) + ": " + std::to_string(r.status);
  if (!code_text.empty()) msg += " " + code_text;
  if (!e.message.empty()) msg += " (" + e.message + ")";
  Errc code = Errc::kPermanent;
  std::string hint;
  if (r.status == 403) {
    code = Errc::kAuth;
    if (!config_.key.empty())
      hint = config_.from_connection_string
                 ? "check the AccountName and AccountKey in AZURE_STORAGE_CONNECTION_STRING"
                 : "check AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY";
    else
      hint = "check the SAS token (permissions, expiry) in " +
             std::string(config_.from_connection_string ? "AZURE_STORAGE_CONNECTION_STRING"
                                                        : "AZURE_STORAGE_SAS_TOKEN");
  } else if (r.status == 404) {
    code = Errc::kNotFound;
    if (code_text == "ContainerNotFound") hint = "create the container or run `strongroom init`";
  } else if (RetryPolicy::retryable_status(r.status)) {
    code = Errc::kTransient;
    hint = "still failing after " + std::to_string(r.attempts) + " attempts; try again later";
  }
  if (!hint.empty()) msg += " — " + hint;
  throw Error(code, msg);
}

void AzureStorage::create_if_missing() {
  Call c{"PUT", "", {{"restype", "container"}}, {}, {}};
  HttpResponse r = call(c);
  if (r.status == 201 || r.status == 409) return;  // created, or ContainerAlreadyExists
  fail(c, r);
}

HttpResponse AzureStorage::upload(const std::string& key, const HttpBody& body,
                                  const std::string& sha256, bool if_absent) {
  HeaderList publish{{kShaMeta, sha256}};
  if (if_absent) publish.emplace_back("If-None-Match", "*");
  if (!body.file.empty() && body.length > transfer_.multipart_threshold) {
    publish.emplace_back("x-ms-blob-content-type", "application/octet-stream");
    return upload_blocks(key, body.file, body.length, publish);
  }
  Call c{"PUT", key, {}, publish, body};
  c.headers.emplace_back("Content-Type", "application/octet-stream");
  c.headers.emplace_back("x-ms-blob-type", "BlockBlob");
  return call(c);
}

HttpResponse AzureStorage::upload_blocks(const std::string& key, const std::string& path,
                                         uint64_t size, const HeaderList& publish_headers) {
  const uint64_t part = transfer_.part_size;
  const uint64_t blocks = (size + part - 1) / part;
  std::optional<HttpResponse> early;
  std::mutex mu;
  run_parallel(blocks, transfer_.parallelism, [&](uint64_t i) {
    Call c{"PUT", key, {{"comp", "block"}, {"blockid", block_id(i)}}, {}, {}};
    c.body.file = path;
    c.body.offset = i * part;
    c.body.length = std::min(part, size - i * part);
    HttpResponse r = call(c);
    if (r.status == 201) return;
    if (r.status == 404 && error_code(r) == "ContainerNotFound") {
      std::lock_guard lock(mu);
      if (!early) early = std::move(r);
      throw Error(Errc::kNotFound, "container missing");  // stops the other workers
    }
    fail(c, r);
  });
  if (early) return std::move(*early);
  std::string xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?><BlockList>";
  for (uint64_t i = 0; i < blocks; ++i) xml += "<Latest>" + block_id(i) + "</Latest>";
  xml += "</BlockList>";
  Call done{"PUT", key, {{"comp", "blocklist"}}, publish_headers, {}};
  done.body.memory = as_bytes(xml);
  done.headers.emplace_back("Content-Type", "application/xml");
  return call(done);
}

void AzureStorage::finish_put(const std::string& key, const HttpBody& body,
                              const std::string& sha256, bool if_absent) {
  for (int round = 0;; ++round) {
    HttpResponse r;
    try {
      r = upload(key, body, sha256, if_absent);
    } catch (const Error& e) {
      if (e.code() != Errc::kNotFound || round > 0) throw;
      create_if_missing();  // a block upload met ContainerNotFound
      continue;
    }
    if (r.status == 201) return;
    std::string code = error_code(r);
    if (r.status == 404 && code == "ContainerNotFound" && round == 0) {
      create_if_missing();
      continue;
    }
    if (r.status == 412 || (r.status == 409 && code == "BlobAlreadyExists")) {
      if (r.attempts > 1) {  // our own earlier attempt may have landed
        HttpResponse h = call(Call{"HEAD", key, {}, {}, {}});
        if (h.status == 200 && h.header(kShaMeta) == sha256) return;
      }
      throw Error(Errc::kAlreadyExists, describe() + ": " + key + " already exists");
    }
    fail(Call{"PUT", key, {}, {}, {}}, r);
  }
}

void AzureStorage::put(const std::string& key, ByteSpan data, bool if_absent) {
  HttpBody body;
  body.memory = data;
  finish_put(key, body, sha256_hex(data), if_absent);
}

void AzureStorage::put_file(const std::string& key, const std::string& path, bool if_absent) {
  Unlinker consumed{path};
  HttpBody body;
  body.file = path;
  body.length = local_file_size(path);
  finish_put(key, body, sha256_file_hex(path, 0, body.length), if_absent);
}

Bytes AzureStorage::get(const std::string& key, uint64_t offset, std::optional<uint64_t> length) {
  if (length && *length == 0) {
    auto info = stat(key);
    if (!info) throw Error(Errc::kNotFound, describe() + ": " + key + " does not exist");
    if (offset > info->size)
      throw Error(Errc::kCorrupt, describe() + ": " + key + " is shorter than expected");
    return {};
  }
  Call c{"GET", key, {}, {}, {}};
  bool ranged = offset > 0 || length;
  if (ranged)
    c.headers.emplace_back("x-ms-range", "bytes=" + std::to_string(offset) + "-" +
                                             (length ? std::to_string(offset + *length - 1) : ""));
  HttpResponse r = call(c);
  if (r.status == 404) {
    if (error_code(r) == "ContainerNotFound") fail(c, r);
    throw Error(Errc::kNotFound, describe() + ": " + key + " does not exist");
  }
  if (r.status == 416)
    throw Error(Errc::kCorrupt, describe() + ": " + key + " is shorter than expected");
  if (r.status != 200 && r.status != 206) fail(c, r);
  if (length && r.body.size() != *length)
    throw Error(Errc::kCorrupt, describe() + ": " + key + " is shorter than expected (" +
                                    std::to_string(r.body.size()) + " of " +
                                    std::to_string(*length) + " bytes)");
  return std::move(r.body);
}

std::optional<ObjectInfo> AzureStorage::stat(const std::string& key) {
  Call c{"HEAD", key, {}, {}, {}};
  HttpResponse r = call(c);
  if (r.status == 404) return std::nullopt;
  if (r.status != 200) fail(c, r);
  return ObjectInfo{key, r.content_length(what(c))};
}

void AzureStorage::list(const std::string& prefix,
                        const std::function<void(const ObjectInfo&)>& visit) {
  const std::string base = config_.prefix.empty() ? "" : config_.prefix + "/";
  std::string marker;
  for (;;) {
    Call c{
        "GET", "", {{"restype", "container"}, {"comp", "list"}, {"prefix", base + prefix}}, {}, {}};
    c.query.emplace_back("maxresults", std::to_string(transfer_.list_page_size));
    if (!marker.empty()) c.query.emplace_back("marker", marker);
    HttpResponse r = call(c);
    if (r.status == 404 && error_code(r) == "ContainerNotFound") return;
    if (r.status != 200) fail(c, r);
    ListPage page = parse_azure_list(r.body, base);
    for (auto& o : page.objects) visit(o);
    marker = page.next;
    if (marker.empty()) return;
  }
}

void AzureStorage::remove(const std::string& key) {
  Call c{"DELETE", key, {}, {}, {}};
  HttpResponse r = call(c);
  if (r.status == 202 || r.status == 200 || r.status == 404) return;
  fail(c, r);
}

}  // namespace sr::storage

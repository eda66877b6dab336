#include "storage/s3_storage.h"

#include <unistd.h>

#include <ctime>

#include "base/error.h"
#include "storage/digest.h"
#include "storage/xml_util.h"

namespace sr::storage {
namespace {

const char* kEmptySha256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const char* kShaMeta = "x-amz-meta-sr-sha256";

// Removes the consumed put_file input whatever happens.
struct Unlinker {
  std::string path;
  ~Unlinker() { ::unlink(path.c_str()); }
};

}  // namespace

S3Storage::S3Storage(S3Config config, HttpSettings http, const TransferSettings& transfer)
    : config_(std::move(config)), http_(std::move(http)), transfer_(transfer) {
  transfer_.validate();
}

S3Storage::~S3Storage() { remove_staging_dir(staging_, transfer_); }

std::string S3Storage::describe() const {
  return "s3://" + config_.bucket + (config_.prefix.empty() ? "" : "/" + config_.prefix);
}

std::string S3Storage::staging_dir() {
  std::call_once(staging_once_, [this] { staging_ = make_staging_dir(transfer_); });
  return staging_;
}

std::string S3Storage::object_path(const std::string& key) const {
  return config_.prefix.empty() ? key : config_.prefix + "/" + key;
}

std::string S3Storage::what(const Call& c) const {
  return "s3: " + c.method + " " + (c.bucket_level ? "bucket " + config_.bucket : c.key);
}

HttpResponse S3Storage::call(const Call& c, const std::function<bool()>& landed) const {
  std::string path = config_.endpoint.base_path;
  if (config_.path_style) path += "/" + config_.bucket;
  if (!c.bucket_level)
    path += "/" + object_path(c.key);
  else if (!config_.path_style)
    path += "/";
  std::string payload_hash = c.payload_hash;
  if (payload_hash.empty())
    payload_hash = c.body.memory.empty() ? kEmptySha256 : sha256_hex(c.body.memory);
  HttpRequest req;
  req.method = c.method;
  req.url = config_.endpoint.origin() + sigv4_canonical_uri(path);
  if (!c.query.empty()) req.url += "?" + sigv4_canonical_query(c.query);
  req.body = c.body;
  auto sign = [&](HttpRequest& r) {
    std::string date = amz_date(static_cast<int64_t>(std::time(nullptr)));
    r.headers = c.headers;
    r.headers.emplace_back("Host", config_.endpoint.host);
    r.headers.emplace_back("x-amz-date", date);
    r.headers.emplace_back("x-amz-content-sha256", payload_hash);
    if (!config_.credentials.session_token.empty())
      r.headers.emplace_back("x-amz-security-token", config_.credentials.session_token);
    SigV4Request s{c.method, path, c.query, r.headers, payload_hash};
    SigV4Scope scope{date.substr(0, 8), config_.region, "s3"};
    r.headers.emplace_back("Authorization",
                           sigv4_authorization(s, config_.credentials, date, scope));
  };
  return http_.send(req, sign, what(c), landed);
}

void S3Storage::fail(const Call& c, const HttpResponse& r) const {
  XmlError e = parse_xml_error(r.body);
  std::string msg = what(c) + ": " + std::to_string(r.status);
  if (!e.code.empty()) msg += " " + e.code;
  if (!e.message.empty()) msg += " (" + e.message + ")";
  Errc code = Errc::kPermanent;
  std::string hint;
  if (r.status == 403) {
    code = Errc::kAuth;
    hint = "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN)";
  } else if (r.status == 404) {
    code = Errc::kNotFound;
    if (e.code == "NoSuchBucket") hint = "create the bucket or run `strongroom init`";
  } else if (r.status == 301 || e.code == "AuthorizationHeaderMalformed" ||
             e.code == "PermanentRedirect") {
    hint = "check AWS_REGION (the bucket is in another region)";
  } else if (RetryPolicy::retryable_status(r.status)) {
    code = Errc::kTransient;
    hint = "still failing after " + std::to_string(r.attempts) + " attempts; try again later";
  }
  if (!hint.empty()) msg += " — " + hint;
  throw Error(code, msg);
}

void S3Storage::create_if_missing() {
  Call c{"PUT", "", true, {}, {}, {}, ""};
  std::string body;
  if (config_.region != "us-east-1") {
    body =
        "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<LocationConstraint>" +
        xml_escape(config_.region) + "</LocationConstraint></CreateBucketConfiguration>";
    c.body.memory = as_bytes(body);
  }
  HttpResponse r = call(c);
  if (r.status == 200 || r.status == 409) return;  // created, or exists already (ours or not)
  fail(c, r);
}

HttpResponse S3Storage::upload(const std::string& key, const HttpBody& body,
                               const std::string& sha256, bool if_absent) {
  if (!body.file.empty() && body.length > transfer_.multipart_threshold)
    return multipart(key, body.file, body.length, sha256, if_absent);
  Call c{
      "PUT", key,   false, {}, {{"Content-Type", "application/octet-stream"}, {kShaMeta, sha256}},
      body,  sha256};
  if (if_absent) c.headers.emplace_back("If-None-Match", "*");
  return call(c);
}

void S3Storage::finish_put(const std::string& key, const HttpBody& body, const std::string& sha256,
                           bool if_absent) {
  for (int round = 0;; ++round) {
    HttpResponse r = upload(key, body, sha256, if_absent);
    if (r.status == 200) return;
    Call c{"PUT", key, false, {}, {}, {}, ""};
    XmlError e = parse_xml_error(r.body);
    if (r.status == 404 && e.code == "NoSuchBucket" && round == 0) {
      create_if_missing();
      continue;
    }
    if (r.status == 412 || (r.status == 409 && e.code == "ConditionalRequestConflict") ||
        (r.status == 404 && e.code == "NoSuchUpload" && r.attempts > 1)) {
      // An earlier attempt of ours may have landed before its answer was lost.
      if (r.attempts > 1) {
        Call head{"HEAD", key, false, {}, {}, {}, ""};
        HttpResponse h = call(head);
        if (h.status == 200 && h.header(kShaMeta) == sha256) return;
      }
      throw Error(Errc::kAlreadyExists, describe() + ": " + key + " already exists");
    }
    fail(c, r);
  }
}

void S3Storage::put(const std::string& key, ByteSpan data, bool if_absent) {
  HttpBody body;
  body.memory = data;
  finish_put(key, body, sha256_hex(data), if_absent);
}

void S3Storage::put_file(const std::string& key, const std::string& path, bool if_absent) {
  Unlinker consumed{path};
  HttpBody body;
  body.file = path;
  body.length = local_file_size(path);
  finish_put(key, body, sha256_file_hex(path, 0, body.length), if_absent);
}

HttpResponse S3Storage::multipart(const std::string& key, const std::string& path, uint64_t size,
                                  const std::string& sha256, bool if_absent) {
  Call init{"POST",
            key,
            false,
            {{"uploads", ""}},
            {{"Content-Type", "application/octet-stream"}, {kShaMeta, sha256}},
            {},
            ""};
  HttpResponse r = call(init);
  if (r.status != 200) return r;  // NoSuchBucket and friends are handled by finish_put
  tinyxml2::XMLDocument doc;
  std::string upload_id;
  if (parse_xml(doc, r.body)) upload_id = xml_child_text(doc.RootElement(), "UploadId");
  if (upload_id.empty())
    throw Error(Errc::kPermanent, what(init) + ": the answer names no UploadId");
  const uint64_t part = transfer_.part_size;
  const uint64_t parts = (size + part - 1) / part;
  std::vector<std::string> etags(parts);
  try {
    run_parallel(parts, transfer_.parallelism, [&](uint64_t i) {
      Call c{"PUT", key, false, {{"partNumber", std::to_string(i + 1)}, {"uploadId", upload_id}},
             {},    {},  ""};
      c.body.file = path;
      c.body.offset = i * part;
      c.body.length = std::min(part, size - i * part);
      c.payload_hash = sha256_file_hex(path, c.body.offset, c.body.length);
      HttpResponse pr = call(c);
      if (pr.status != 200) fail(c, pr);
      etags[i] = pr.header("etag");
      if (etags[i].empty()) throw Error(Errc::kPermanent, what(c) + ": the answer has no ETag");
    });
    std::string xml = "<CompleteMultipartUpload>";
    for (uint64_t i = 0; i < parts; ++i)
      xml += "<Part><PartNumber>" + std::to_string(i + 1) + "</PartNumber><ETag>" +
             xml_escape(etags[i]) + "</ETag></Part>";
    xml += "</CompleteMultipartUpload>";
    Call done{"POST", key, false, {{"uploadId", upload_id}}, {}, {}, ""};
    done.body.memory = as_bytes(xml);
    if (if_absent) done.headers.emplace_back("If-None-Match", "*");
    // A Complete whose answer was lost cannot be repeated everywhere (s3rver answers 500 to a
    // finished upload id): before each retry, look whether our object is there.
    auto completed = [&] {
      HttpResponse h = call(Call{"HEAD", key, false, {}, {}, {}, ""});
      return h.status == 200 && h.header(kShaMeta) == sha256;
    };
    HttpResponse dr = call(done, completed);
    // CompleteMultipartUpload may answer 200 with an <Error> body.
    if (dr.status == 200 && !parse_xml_error(dr.body).code.empty()) {
      XmlError e = parse_xml_error(dr.body);
      throw Error(Errc::kTransient, what(done) + ": " + e.code + " (" + e.message + ")");
    }
    if (dr.status != 200) {
      Call abort{"DELETE", key, false, {{"uploadId", upload_id}}, {}, {}, ""};
      (void)call(abort);
    }
    return dr;
  } catch (...) {
    try {
      Call abort{"DELETE", key, false, {{"uploadId", upload_id}}, {}, {}, ""};
      (void)call(abort);  // s3rver answers 405: tolerated, the parts stay invisible
    } catch (const Error&) {
    }
    throw;
  }
}

Bytes S3Storage::get(const std::string& key, uint64_t offset, std::optional<uint64_t> length) {
  if (length && *length == 0) {
    auto info = stat(key);
    if (!info) throw Error(Errc::kNotFound, describe() + ": " + key + " does not exist");
    if (offset > info->size)
      throw Error(Errc::kCorrupt, describe() + ": " + key + " is shorter than expected");
    return {};
  }
  Call c{"GET", key, false, {}, {}, {}, ""};
  bool ranged = offset > 0 || length;
  if (ranged)
    c.headers.emplace_back("Range", "bytes=" + std::to_string(offset) + "-" +
                                        (length ? std::to_string(offset + *length - 1) : ""));
  HttpResponse r = call(c);
  if (r.status == 404) {
    XmlError e = parse_xml_error(r.body);
    if (e.code == "NoSuchBucket") fail(c, r);
    throw Error(Errc::kNotFound, describe() + ": " + key + " does not exist");
  }
  if (r.status == 416)
    throw Error(Errc::kCorrupt, describe() + ": " + key + " is shorter than expected");
  if (r.status != 200 && r.status != 206) fail(c, r);
  if (ranged && r.status == 200) {  // the server ignored Range: cut the answer ourselves
    if (offset > r.body.size())
      throw Error(Errc::kCorrupt, describe() + ": " + key + " is shorter than expected");
    r.body.erase(r.body.begin(), r.body.begin() + static_cast<ptrdiff_t>(offset));
    if (length && r.body.size() > *length) r.body.resize(*length);
  }
  if (length && r.body.size() != *length)
    throw Error(Errc::kCorrupt, describe() + ": " + key + " is shorter than expected (" +
                                    std::to_string(r.body.size()) + " of " +
                                    std::to_string(*length) + " bytes)");
  return std::move(r.body);
}

std::optional<ObjectInfo> S3Storage::stat(const std::string& key) {
  Call c{"HEAD", key, false, {}, {}, {}, ""};
  HttpResponse r = call(c);
  if (r.status == 404) return std::nullopt;
  if (r.status != 200) fail(c, r);
  return ObjectInfo{key, r.content_length(what(c))};
}

void S3Storage::list(const std::string& prefix,
                     const std::function<void(const ObjectInfo&)>& visit) {
  const std::string base = config_.prefix.empty() ? "" : config_.prefix + "/";
  std::string token;
  for (;;) {
    Call c{"GET",
           "",
           true,
           {{"list-type", "2"},
            {"prefix", base + prefix},
            {"max-keys", std::to_string(transfer_.list_page_size)}},
           {},
           {},
           ""};
    if (!token.empty()) c.query.emplace_back("continuation-token", token);
    HttpResponse r = call(c);
    if (r.status == 404 && parse_xml_error(r.body).code == "NoSuchBucket") return;
    if (r.status != 200) fail(c, r);
    ListPage page = parse_s3_list(r.body, base);
    for (auto& o : page.objects) visit(o);
    token = page.next;
    if (token.empty()) return;
  }
}

void S3Storage::remove(const std::string& key) {
  Call c{"DELETE", key, false, {}, {}, {}, ""};
  HttpResponse r = call(c);
  if (r.status == 200 || r.status == 204 || r.status == 404) return;
  fail(c, r);
}

}  // namespace sr::storage

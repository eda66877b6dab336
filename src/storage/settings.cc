#include "storage/settings.h"

#include <sstream>

#include "base/error.h"

namespace sr::storage {
namespace {
const char* set_or_not(const std::string& secret) { return secret.empty() ? "unset" : "set"; }
}  // namespace

std::string S3Settings::describe() const {
  std::ostringstream o;
  o << "s3{region=" << (region.empty() ? "us-east-1" : region)
    << ", endpoint=" << (endpoint.empty() ? "aws" : endpoint)
    << ", access_key_id=" << (access_key_id.empty() ? "unset" : access_key_id)
    << ", secret_access_key=" << set_or_not(secret_access_key)
    << ", session_token=" << set_or_not(session_token) << "}";
  return o.str();
}

std::string AzureSettings::describe() const {
  std::ostringstream o;
  o << "azure{connection_string=" << set_or_not(connection_string)
    << ", account=" << (account.empty() ? "unset" : account) << ", key=" << set_or_not(key)
    << ", sas_token=" << set_or_not(sas_token)
    << ", endpoint=" << (endpoint.empty() ? "default" : endpoint)
    << ", endpoint_suffix=" << (endpoint_suffix.empty() ? "core.windows.net" : endpoint_suffix)
    << "}";
  return o.str();
}

void TransferSettings::validate() const {
  if (part_size < (5ull << 20))
    throw Error(Errc::kUsage, "the multipart part size must be at least 5M");
  if (parallelism < 1 || parallelism > 64)
    throw Error(Errc::kUsage, "the transfer parallelism must be between 1 and 64");
  if (list_page_size < 1 || list_page_size > 5000)
    throw Error(Errc::kUsage, "the list page size must be between 1 and 5000");
}

std::string TransferSettings::describe() const {
  std::ostringstream o;
  o << "transfer{multipart_threshold=" << multipart_threshold << ", part_size=" << part_size
    << ", parallelism=" << parallelism << ", list_page_size=" << list_page_size
    << ", staging_dir=" << (staging_dir.empty() ? temp_dir + "/strongroom-staging-*" : staging_dir)
    << "}";
  return o.str();
}

std::string HttpSettings::describe() const {
  std::ostringstream o;
  o << "http{retry_seconds=" << retry.budget_seconds
    << ", connect_timeout=" << connect_timeout_seconds << ", stall_seconds=" << stall_seconds
    << ", trace=" << (trace ? "on" : "off")
    << ", ca_file=" << (ca_file.empty() ? "system" : ca_file) << "}";
  return o.str();
}

std::string StorageSettings::describe() const {
  return s3.describe() + " " + azure.describe() + " " + transfer.describe() + " " + http.describe();
}

}  // namespace sr::storage

#include "storage/azure_config.h"

#include <tuple>

#include "base/error.h"

namespace sr::storage {
namespace {

// Azurite's published development account (not a secret).
const char* kDevAccount = "devstoreaccount1";
const char* kDevKey =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

}  // namespace

std::map<std::string, std::string> parse_connection_string(const std::string& text) {
  std::map<std::string, std::string> out;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t semi = text.find(';', pos);
    std::string part = text.substr(pos, semi == std::string::npos ? std::string::npos : semi - pos);
    if (auto eq = part.find('='); eq != std::string::npos)
      out[part.substr(0, eq)] = part.substr(eq + 1);
    if (semi == std::string::npos) break;
    pos = semi + 1;
  }
  return out;
}

AzureConfig AzureConfig::resolve(const std::string& url, const AzureSettings& s) {
  AzureConfig c;
  std::tie(c.container, c.prefix) = split_container_url(url.substr(8), url);
  std::string key_b64, blob_endpoint, protocol = "https", suffix = "core.windows.net";
  std::string endpoint_var;
  if (const std::string& cs = s.connection_string; !cs.empty()) {
    c.from_connection_string = true;
    auto m = parse_connection_string(cs);
    if (m["UseDevelopmentStorage"] == "true") {
      c.account = kDevAccount;
      key_b64 = kDevKey;
      blob_endpoint = "http://127.0.0.1:10000/devstoreaccount1";
    }
    if (m.count("AccountName")) c.account = m["AccountName"];
    if (m.count("AccountKey")) key_b64 = m["AccountKey"];
    if (m.count("SharedAccessSignature")) c.sas = m["SharedAccessSignature"];
    if (m.count("BlobEndpoint")) blob_endpoint = m["BlobEndpoint"];
    if (m.count("DefaultEndpointsProtocol")) protocol = m["DefaultEndpointsProtocol"];
    if (m.count("EndpointSuffix")) suffix = m["EndpointSuffix"];
    endpoint_var = "the connection string's BlobEndpoint";
  } else {
    c.account = s.account;
    key_b64 = s.key;
    c.sas = s.sas_token;
    blob_endpoint = s.endpoint;
    if (!s.endpoint_suffix.empty()) suffix = s.endpoint_suffix;
    endpoint_var = "AZURE_STORAGE_ENDPOINT";
  }
  while (!c.sas.empty() && c.sas.front() == '?') c.sas.erase(0, 1);
  if (!key_b64.empty()) {
    try {
      c.key = base64_decode(key_b64);
    } catch (const Error&) {
      throw Error(Errc::kUsage,
                  "azure: the account key is not valid base64 (check "
                  "AZURE_STORAGE_KEY or the connection string's AccountKey)");
    }
  }
  if (c.key.empty() && c.sas.empty())
    throw Error(Errc::kUsage,
                "azure: no credentials for " + url +
                    ": set AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT with "
                    "AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN");
  if (!blob_endpoint.empty()) {
    c.endpoint = parse_endpoint(blob_endpoint, endpoint_var);
  } else {
    if (c.account.empty())
      throw Error(Errc::kUsage,
                  "azure: no storage account: set AZURE_STORAGE_ACCOUNT or "
                  "AccountName in AZURE_STORAGE_CONNECTION_STRING");
    c.endpoint = parse_endpoint(protocol + "://" + c.account + ".blob." + suffix, "the endpoint");
  }
  if (c.account.empty() && !c.key.empty())
    throw Error(Errc::kUsage,
                "azure: a Shared Key needs the account name (AZURE_STORAGE_ACCOUNT "
                "or AccountName)");
  return c;
}

}  // namespace sr::storage

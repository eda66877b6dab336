// storage/azure_config.h: where an azure:// repository lives and how to authenticate.
//
// azure://CONTAINER[/PREFIX] with AzureSettings (settings.h; app/ fills them from the Azure CLI's
// standard environment variables):
//   a connection string (AZURE_STORAGE_CONNECTION_STRING): AccountName, AccountKey,
//   SharedAccessSignature,
//     BlobEndpoint (overrides the endpoint: Azurite's http://127.0.0.1:10000/devstoreaccount1),
//     DefaultEndpointsProtocol (https), EndpointSuffix (core.windows.net; sovereign clouds),
//     UseDevelopmentStorage=true (Azurite's well-known account on 127.0.0.1:10000);
//   or an account (AZURE_STORAGE_ACCOUNT) with a key (AZURE_STORAGE_KEY) or a SAS token
//     (AZURE_STORAGE_SAS_TOKEN), and optionally an endpoint (AZURE_STORAGE_ENDPOINT, the blob
//     endpoint URL) or an endpoint suffix (AZURE_STORAGE_ENDPOINT_SUFFIX).
// Messages name the environment variables, which is where the settings come from today.
// A key means Shared Key signing; otherwise the SAS token is appended to every request.
#pragma once

#include <map>
#include <string>

#include "base/bytes.h"
#include "storage/settings.h"
#include "storage/url.h"

namespace sr::storage {

struct AzureConfig {
  std::string container;
  std::string prefix;  // no leading or trailing '/'
  std::string account;
  Bytes key;          // decoded account key; empty when a SAS is used
  std::string sas;    // without the leading '?'
  Endpoint endpoint;  // the blob service; base_path "/devstoreaccount1" for path-style emulators
  bool from_connection_string = false;

  static AzureConfig resolve(const std::string& url, const AzureSettings& settings);
};

// "A=1;B=x==" → {A:1, B:x==}: values may contain '='; empty segments are skipped.
std::map<std::string, std::string> parse_connection_string(const std::string& text);

}  // namespace sr::storage

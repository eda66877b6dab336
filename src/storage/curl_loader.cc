// storage/curl_loader.cc: libcurl is loaded when first used (dlopen), not at program start.
//
// Linking libcurl makes every process map it and its dependencies (GnuTLS, Kerberos, LDAP, SSH,
// HTTP/2, IDN: ~30 shared libraries, ~7 ms of start-up here) although only S3 and Azure
// repositories need it; `wal-push` to a local repository runs once per WAL segment. The
// functions http_client.cc uses are defined here with curl's signatures and forward to the
// library's, resolved once. curl_easy_setopt and curl_easy_getinfo are variadic: the type of
// their third argument follows from the option number, as curl.h defines it (CURLOPTTYPE_* and
// CURLINFO_* ranges), and is passed on as that type.
#define CURL_DISABLE_TYPECHECK 1
#include <curl/curl.h>

#include <cstdarg>

#include "base/dyn_lib.h"

namespace {
void* library() {
  static void* handle =
      sr::load_library("libcurl.so.4", "S3 and Azure repositories need (install libcurl4)");
  return handle;
}

void* symbol(const char* name) { return sr::library_symbol(library(), "libcurl.so.4", name); }

using GenericFn = void (*)();
}  // namespace

#define SR_CURL(ret, name, params, args)                                     \
  extern "C" ret name params {                                               \
    static const auto fn = reinterpret_cast<decltype(&name)>(symbol(#name)); \
    return fn args;                                                          \
  }

SR_CURL(CURLcode, curl_global_init, (long flags), (flags))
SR_CURL(CURL*, curl_easy_init, (void), ())
SR_CURL(void, curl_easy_cleanup, (CURL * c), (c))
SR_CURL(void, curl_easy_reset, (CURL * c), (c))
SR_CURL(CURLcode, curl_easy_perform, (CURL * c), (c))
SR_CURL(const char*, curl_easy_strerror, (CURLcode code), (code))
SR_CURL(curl_slist*, curl_slist_append, (curl_slist * list, const char* s), (list, s))
SR_CURL(void, curl_slist_free_all, (curl_slist * list), (list))

// The signatures are libcurl's, with an enum before the `...`. Clang warns that va_start after
// a parameter that undergoes promotion is undefined; these enums are int-sized (their values are
// ints, as libcurl's own va_start relies on), so nothing is promoted.
static_assert(sizeof(CURLoption) == sizeof(int) && sizeof(CURLINFO) == sizeof(int));
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wvarargs"
#endif
extern "C" CURLcode curl_easy_setopt(CURL* c, CURLoption option, ...) {
  static const auto fn = reinterpret_cast<decltype(&curl_easy_setopt)>(symbol("curl_easy_setopt"));
  va_list ap;
  va_start(ap, option);
  CURLcode rc;
  const int o = static_cast<int>(option);
  if (o < CURLOPTTYPE_OBJECTPOINT) {
    rc = fn(c, option, va_arg(ap, long));
  } else if (o < CURLOPTTYPE_FUNCTIONPOINT) {
    rc = fn(c, option, va_arg(ap, void*));
  } else if (o < CURLOPTTYPE_OFF_T) {
    rc = fn(c, option, va_arg(ap, GenericFn));
  } else if (o < CURLOPTTYPE_BLOB) {
    rc = fn(c, option, va_arg(ap, curl_off_t));
  } else {
    rc = fn(c, option, va_arg(ap, void*));
  }
  va_end(ap);
  return rc;
}

extern "C" CURLcode curl_easy_getinfo(CURL* c, CURLINFO info, ...) {
  static const auto fn =
      reinterpret_cast<decltype(&curl_easy_getinfo)>(symbol("curl_easy_getinfo"));
  va_list ap;
  va_start(ap, info);
  CURLcode rc = fn(c, info, va_arg(ap, void*));  // always a pointer to the result
  va_end(ap);
  return rc;
}
#if defined(__clang__)
#pragma clang diagnostic pop
#endif

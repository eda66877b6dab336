// base/dyn_lib.h: shared libraries loaded when first needed (pg/libpq_loader.cc,
// storage/curl_loader.cc), with one error for a library that is missing or lacks a symbol.
#pragma once

namespace sr {

// dlopen(soname); throws Error{kUsage} "cannot load SONAME, which NEEDED_BY (install PACKAGE)".
void* load_library(const char* soname, const char* needed_by);
// dlsym; throws Error{kUsage} "SONAME lacks NAME".
void* library_symbol(void* handle, const char* soname, const char* name);

}  // namespace sr

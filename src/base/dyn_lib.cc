#include "base/dyn_lib.h"

#include <dlfcn.h>

#include <string>

#include "base/error.h"

namespace sr {

void* load_library(const char* soname, const char* needed_by) {
  void* h = ::dlopen(soname, RTLD_NOW | RTLD_LOCAL);
  if (!h) {
    const char* why = ::dlerror();
    throw Error(Errc::kUsage, std::string("cannot load ") + soname + ", which " + needed_by + ": " +
                                  (why ? why : "unknown error"));
  }
  return h;
}

void* library_symbol(void* handle, const char* soname, const char* name) {
  void* p = ::dlsym(handle, name);
  if (!p) throw Error(Errc::kUsage, std::string(soname) + " lacks " + name);
  return p;
}

}  // namespace sr

#include "base/dyn_lib.h"

#include <gtest/gtest.h>

#include <string>

#include "base/error.h"

namespace sr {
namespace {

TEST(DynLib, MissingLibraryIsAUsageErrorNamingIt) {
  try {
    load_library("libstrongroom-missing.so.9", "this test needs (install nothing)");
    FAIL() << "loaded a library that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    std::string m = e.what();
    EXPECT_NE(m.find("cannot load libstrongroom-missing.so.9, which this test needs"),
              std::string::npos)
        << m;
  }
}

TEST(DynLib, SymbolsResolveOrNameWhatIsMissing) {
  void* libc = load_library("libc.so.6", "the test");
  EXPECT_NE(library_symbol(libc, "libc.so.6", "strlen"), nullptr);
  try {
    library_symbol(libc, "libc.so.6", "sr_no_such_function");
    FAIL() << "resolved a symbol that does not exist";
  } catch (const Error& e) {
    EXPECT_EQ(e.code(), Errc::kUsage);
    EXPECT_STREQ(e.what(), "libc.so.6 lacks sr_no_such_function");
  }
}

}  // namespace
}  // namespace sr

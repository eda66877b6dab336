// testing/test_env.h: the environment as unit tests see it (test server endpoints, PostgreSQL
// binaries), set by the e2e wrappers that start those servers. Defined in
// tests/support/test_env.cc, outside src/: below src/app/ no code reads the environment.
#pragma once

namespace sr::testing {

// The variable's value, or nullptr when it is unset (like the C library's lookup).
const char* test_env(const char* name);

}  // namespace sr::testing

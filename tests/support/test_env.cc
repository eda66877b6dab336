// The definition of testing/test_env.h, kept outside src/ (see that header).
#include "testing/test_env.h"

#include <cstdlib>

namespace sr::testing {

const char* test_env(const char* name) { return std::getenv(name); }

}  // namespace sr::testing

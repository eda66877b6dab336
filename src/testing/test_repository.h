// testing/test_repository.h: a repository for a test, in `dir`/repo with password "pw", a fast
// scrypt setting and its index cache in `dir`/cache.
#pragma once

#include <stdlib.h>

#include "repo/repository.h"
#include "testing/temp_dir.h"

namespace sr::testing {

inline std::string init_test_repository(const TempDir& dir) {
  ::setenv("STRONGROOM_CACHE_DIR", (dir / "cache").c_str(), 1);
  repo::InitOptions o;
  o.scrypt = {1024, 8, 1};  // fast for tests
  repo::Repository::init(dir / "repo", "pw", o);
  return dir / "repo";
}

}  // namespace sr::testing

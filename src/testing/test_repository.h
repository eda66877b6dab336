// testing/test_repository.h: a repository for a test, in `dir`/repo with password "pw", a fast
// scrypt setting and its index cache in `dir`/cache (passed as RepoOptions: no environment).
#pragma once

#include <memory>
#include <string>

#include "repo/repository.h"
#include "storage/local_storage.h"
#include "testing/temp_dir.h"

namespace sr::testing {

inline repo::InitOptions fast_init_options() {
  repo::InitOptions o;
  o.scrypt = {1024, 8, 1};  // fast for tests
  return o;
}

inline repo::RepoOptions test_repo_options(const TempDir& dir) {
  return repo::RepoOptions{dir / "cache"};
}

// Creates the repository in `dir`/repo; returns its path.
inline std::string init_test_repository(const TempDir& dir) {
  storage::LocalStorage s(dir / "repo");
  repo::Repository::init(s, "pw", fast_init_options());
  return dir / "repo";
}

// Opens the repository init_test_repository created (a new Repository object each call).
inline std::unique_ptr<repo::Repository> open_test_repository(const TempDir& dir,
                                                              const std::string& password = "pw") {
  return repo::Repository::open(std::make_unique<storage::LocalStorage>(dir / "repo"),
                                repo::Credential{password, false}, test_repo_options(dir));
}

}  // namespace sr::testing

#include "storage/transfer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "base/error.h"
#include "base/fs.h"

namespace sr::storage {

uint64_t parse_size(const std::string& text, const std::string& what) {
  size_t pos = 0;
  uint64_t n = 0;
  try {
    n = std::stoull(text, &pos);
  } catch (const std::exception&) {
    pos = 0;
  }
  if (pos == 0) throw Error(Errc::kUsage, what + " must be a size like 64M, got '" + text + "'");
  std::string suffix = text.substr(pos);
  if (suffix == "K" || suffix == "KiB") return n << 10;
  if (suffix == "M" || suffix == "MiB") return n << 20;
  if (suffix == "G" || suffix == "GiB") return n << 30;
  if (suffix.empty()) return n;
  throw Error(Errc::kUsage, what + " must be a size like 64M, got '" + text + "'");
}

TransferOptions TransferOptions::from_env() {
  TransferOptions o;
  if (const char* v = std::getenv("STRONGROOM_MULTIPART_THRESHOLD"); v && *v)
    o.multipart_threshold = parse_size(v, "STRONGROOM_MULTIPART_THRESHOLD");
  if (const char* v = std::getenv("STRONGROOM_MULTIPART_PART_SIZE"); v && *v)
    o.part_size = parse_size(v, "STRONGROOM_MULTIPART_PART_SIZE");
  if (o.part_size < (5ull << 20))
    throw Error(Errc::kUsage, "STRONGROOM_MULTIPART_PART_SIZE must be at least 5M");
  if (const char* v = std::getenv("STRONGROOM_TRANSFER_PARALLELISM"); v && *v) {
    uint64_t p = parse_size(v, "STRONGROOM_TRANSFER_PARALLELISM");
    if (p < 1 || p > 64)
      throw Error(Errc::kUsage, "STRONGROOM_TRANSFER_PARALLELISM must be between 1 and 64");
    o.parallelism = static_cast<unsigned>(p);
  }
  if (const char* v = std::getenv("STRONGROOM_LIST_PAGE_SIZE"); v && *v) {
    uint64_t n = parse_size(v, "STRONGROOM_LIST_PAGE_SIZE");
    if (n < 1 || n > 5000)
      throw Error(Errc::kUsage, "STRONGROOM_LIST_PAGE_SIZE must be between 1 and 5000");
    o.list_page_size = static_cast<unsigned>(n);
  }
  return o;
}

void run_parallel(uint64_t count, unsigned parallelism, const std::function<void(uint64_t)>& fn) {
  std::atomic<uint64_t> next{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  std::exception_ptr error;
  auto work = [&] {
    for (;;) {
      uint64_t i = next.fetch_add(1);
      if (i >= count || failed.load()) return;
      try {
        fn(i);
      } catch (...) {
        std::lock_guard lock(mu);
        if (!error) error = std::current_exception();
        failed = true;
        return;
      }
    }
  };
  unsigned n = static_cast<unsigned>(std::min<uint64_t>(count, parallelism ? parallelism : 1));
  {
    std::vector<std::jthread> threads;
    for (unsigned t = 1; t < n; ++t) threads.emplace_back(work);
    work();
  }
  if (error) std::rethrow_exception(error);
}

std::string make_staging_dir() {
  std::string dir;
  if (const char* v = std::getenv("STRONGROOM_STAGING_DIR"); v && *v) {
    dir = v;
  } else {
    const char* tmp = std::getenv("TMPDIR");
    dir = std::string(tmp && *tmp ? tmp : "/tmp") + "/strongroom-staging-" +
          std::to_string(::getpid());
  }
  mkdirs(dir, 0700);
  return dir;
}

void remove_staging_dir(const std::string& dir) {
  const char* v = std::getenv("STRONGROOM_STAGING_DIR");
  if (!dir.empty() && !(v && *v)) ::rmdir(dir.c_str());  // fails harmlessly when not empty
}

uint64_t local_file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw_errno("cannot stat " + path);
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace sr::storage

#include "storage/transfer.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
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

std::string make_staging_dir(const TransferSettings& settings) {
  std::string dir = settings.staging_dir;
  if (dir.empty()) {
    static std::atomic<unsigned> made{0};
    unsigned n = made.fetch_add(1);
    dir = (settings.temp_dir.empty() ? std::string("/tmp") : settings.temp_dir) +
          "/strongroom-staging-" + std::to_string(::getpid()) +
          (n == 0 ? "" : "-" + std::to_string(n));
  }
  mkdirs(dir, 0700);
  return dir;
}

void remove_staging_dir(const std::string& dir, const TransferSettings& settings) {
  // Fails harmlessly when not empty.
  if (!dir.empty() && dir != settings.staging_dir) ::rmdir(dir.c_str());
}

uint64_t local_file_size(const std::string& path) {
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) throw_errno("cannot stat " + path);
  return static_cast<uint64_t>(st.st_size);
}

}  // namespace sr::storage

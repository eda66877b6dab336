// storage/transfer.h: what the object-store backends share about moving large objects.
//
// TransferOptions: objects larger than multipart_threshold are uploaded in parts of part_size
// (S3 multipart upload, Azure staged blocks), at most `parallelism` parts at a time per object.
// Environment: STRONGROOM_MULTIPART_THRESHOLD (bytes, suffix K/M/G allowed; default 64M),
// STRONGROOM_MULTIPART_PART_SIZE (default 16M, at least 5M: S3's minimum part),
// STRONGROOM_TRANSFER_PARALLELISM (default 4), STRONGROOM_LIST_PAGE_SIZE (objects per listing
// request; default 1000, the stores' own maximum — small values let tests reach continuation).
//
// run_parallel runs fn(0..count-1) on up to `parallelism` threads, stops handing out work after
// the first failure and rethrows it. make_staging_dir creates the private local directory where
// put_file's inputs are assembled (object stores cannot rename, so staging is local).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

namespace sr::storage {

struct TransferOptions {
  uint64_t multipart_threshold = 64ull << 20;
  uint64_t part_size = 16ull << 20;
  unsigned parallelism = 4;
  unsigned list_page_size = 1000;
  static TransferOptions from_env();
};

// "64M" → 67108864; throws Errc::kUsage naming `what` on bad input.
uint64_t parse_size(const std::string& text, const std::string& what);

void run_parallel(uint64_t count, unsigned parallelism, const std::function<void(uint64_t)>& fn);

// $STRONGROOM_STAGING_DIR, or ${TMPDIR:-/tmp}/strongroom-staging-<pid>, created with mode 0700.
std::string make_staging_dir();
// Removes a directory make_staging_dir created if it is empty (never $STRONGROOM_STAGING_DIR).
void remove_staging_dir(const std::string& dir);

// Size of a local file; throws Errc::kIo.
uint64_t local_file_size(const std::string& path);

}  // namespace sr::storage

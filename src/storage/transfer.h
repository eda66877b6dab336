// storage/transfer.h: what the object-store backends share about moving large objects.
//
// TransferSettings (settings.h): objects larger than multipart_threshold are uploaded in parts
// of part_size (S3 multipart upload, Azure staged blocks), at most `parallelism` parts at a time
// per object; listings ask for list_page_size objects per request (small values let tests reach
// continuation).
//
// run_parallel runs fn(0..count-1) on up to `parallelism` threads, stops handing out work after
// the first failure and rethrows it. make_staging_dir creates the private local directory where
// put_file's inputs are assembled (object stores cannot rename, so staging is local).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "storage/settings.h"

namespace sr::storage {

// "64M" → 67108864; throws Errc::kUsage naming `what` on bad input.
uint64_t parse_size(const std::string& text, const std::string& what);

void run_parallel(uint64_t count, unsigned parallelism, const std::function<void(uint64_t)>& fn);

// settings.staging_dir, or a private <temp_dir>/strongroom-staging-<pid> (the process's second
// and later ones get "-<n>" appended, so two storages never share one), created with mode 0700.
std::string make_staging_dir(const TransferSettings& settings);
// Removes a directory make_staging_dir created if it is empty (never settings.staging_dir).
void remove_staging_dir(const std::string& dir, const TransferSettings& settings);

// Size of a local file; throws Errc::kIo.
uint64_t local_file_size(const std::string& path);

}  // namespace sr::storage

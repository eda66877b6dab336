// ops/wal_archive.h: PostgreSQL's archive_command and restore_command.
//
// wal_push stores one file PostgreSQL asks to archive; it returns only once the file is durable
// in the repository (the object is published with fsync before the call returns), so PostgreSQL
// may recycle the segment. While it works on a segment it reads the next one into the page cache
// when PostgreSQL has marked that one ready (archiving is behind: the next call finds it in
// memory instead of waiting for the disk). A segment's long page header names the cluster's system
// identifier; it must match the stanza's. wal_get fetches a file into the path PostgreSQL gives
// (written to a temporary name and renamed, so a crash never leaves a partial segment there).
// wal_push checks ctx.check_cancelled() before it stores the file (a file is stored whole or not
// at all).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "base/context.h"
#include "repo/wal_store.h"

namespace sr::ops {

struct WalPushOptions {
  std::string stanza = "main";
  std::string path;  // the file PostgreSQL gives (%p)
  // Cores to compress one file on (0: all; a caller pushing several at once says 1).
  size_t max_parts = 0;
};

struct WalPushResult {
  std::string file;  // the path pushed
  bool already_stored = false;
  uint64_t bytes = 0;

  // What `wal-push --json` prints: file, bytes, already_stored.
  nlohmann::json to_json() const;
};

WalPushResult wal_push(repo::Repository& repo, const WalPushOptions& options, const OpContext& ctx);
// Returns false when the repository does not have the file (PostgreSQL then tries elsewhere or
// ends recovery).
bool wal_get(repo::Repository& repo, const std::string& stanza, const std::string& name,
             const std::string& dest);

// Prefetching for restore_command: replay should not wait on one repository round trip per
// segment. take_prefetched() moves an already fetched segment into place (true if there was
// one); prefetch() fetches the `count` segments after `name` (same timeline) into `dir` —
// two at a time, each written to a temporary name and renamed — unless present, and drops
// prefetched segments older than `name`. Only one prefetcher runs per directory (flock).
bool take_prefetched(const std::string& dir, const std::string& name, const std::string& dest);
void prefetch(repo::Repository& repo, const std::string& stanza, const std::string& dir,
              const std::string& name, int count);

// The path of the segment after the one at `path` (same directory, same timeline) when
// PostgreSQL has marked it ready for archiving (archive_status/NAME.ready beside it); "" when it
// is not, or `path` is not a segment of `segment_size` bytes. wal_push reads that segment ahead.
std::string next_ready_segment(const std::string& path, uint64_t segment_size);

// The system identifier in a WAL segment's first (long) page header; nullopt if not a segment.
std::optional<uint64_t> segment_system_identifier(ByteSpan segment);

}  // namespace sr::ops

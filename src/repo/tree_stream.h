// repo/tree_stream.h: writing and reading a backup's tree stream through the repository.
//
// TreeWriter appends encoded entries and stores the stream in content-defined tree chunks as it
// grows; memory is bounded by the chunker's maximum chunk size. TreeReader reads the chunks back
// one at a time and yields entries in order. Neither is thread-safe.
#pragma once

#include <optional>

#include "repo/repository.h"

namespace sr::repo {

class TreeWriter {
 public:
  // `stats` (optional) counts the tree chunks this operation adds.
  explicit TreeWriter(Repository& repo, WriteStats* stats = nullptr);
  void add(const Entry& e);
  // Stores the rest; returns the stream's chunk ids (hex) and their stored size.
  std::vector<std::string> finish();
  uint64_t stored_bytes() const { return stored_; }

 private:
  void cut(bool eof);
  Repository& repo_;
  WriteStats* stats_;
  std::unique_ptr<codec::Chunker> chunker_;
  Bytes buf_;
  std::vector<std::string> ids_;
  uint64_t stored_ = 0;
};

class TreeReader {
 public:
  TreeReader(Repository& repo, const Manifest& m);
  std::optional<Entry> next();

 private:
  bool fill(size_t need);  // makes at least `need` unread bytes available; false at end
  Repository& repo_;
  std::vector<std::string> ids_;
  std::string what_;
  size_t next_chunk_ = 0;
  Bytes buf_;
  size_t pos_ = 0;
};

}  // namespace sr::repo

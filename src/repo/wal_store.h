// repo/wal_store.h: PostgreSQL WAL in the repository, one object per file.
//
// Objects (per stanza, i.e. per PostgreSQL cluster):
//   wal/<stanza>/<first 16 hex of the name>/<segment name>   a WAL segment
//   wal/<stanza>/history/<NNNNNNNN.history>                   a timeline history file
//   pg/<stanza>/info                                          the cluster's identity (envelope)
// A WAL object is self-contained and written once, atomically (see docs/FORMAT.md):
//   "SRWL" | key header (repo/pack.h: version 2, wrap, generation, 32 bytes) | content tag (32)
//          | sealed(key, payload)          (version 1, still read: "SRWL" | 1 | 1 | wrapped key)
// with payload = u8 version (2) | u64 size | u8 compressed | zstd frames or raw bytes (version 1,
// still read, also held a SHA-256 of the file).
// Pushing a file that is already stored succeeds when the content is identical (a retried
// archive_command) and fails loudly when it differs; a write-only key, which cannot decrypt the
// stored object, compares the content tag (an HMAC under a key derived from id_key) that
// write-only writers store in the header. Thread-safe.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "repo/repository.h"

namespace sr::repo {

struct PgInfo {
  std::string system_identifier;
  int version = 0;  // server_version_num, e.g. 150004
  uint64_t segment_size = 16ull << 20;
};

// Authenticates a stored WAL object (the bytes of `key`) and returns its content. Throws
// Errc::kCorrupt when it is damaged or not a WAL object.
Bytes open_wal_object(const KeySet& keys, const std::string& key, ByteSpan stored);
// Seals `content` as the WAL object `key` (what push stores; for tests and fuzzing).
Bytes seal_wal_object(const KeySet& keys, const std::string& key, ByteSpan content);

class WalStore {
 public:
  WalStore(Repository& repo, std::string stanza);

  // Records the cluster's identity on first use; afterwards a different system identifier is
  // refused (kUsage): this repository stanza belongs to another cluster.
  PgInfo check_identity(const PgInfo& info);
  std::optional<PgInfo> identity();

  enum class PushResult { kStored, kAlreadyStored };
  // Compressed on up to `max_parts` cores (0: all; a caller pushing several at once says 1).
  PushResult push(const std::string& name, ByteSpan content, size_t max_parts = 0);
  // nullopt when the repository has no such file.
  std::optional<Bytes> get(const std::string& name);
  bool exists(const std::string& name);
  // Visits every stored WAL segment and history file name of the stanza.
  void list(const std::function<void(const std::string& name)>& visit);
  // When the newest object of the stanza's WAL (segment, .partial, increment) was stored, by the
  // store's clock (ObjectInfo::mtime_ns); 0 when there is none or the store does not say.
  int64_t newest_stored_ns();
  // Removes one stored file (prune: WAL no kept backup needs).
  void remove(const std::string& name);

  // WAL streaming stores a segment in increments until it is complete:
  //   wal/<stanza>/<prefix>/<segment>.inc.<offset, 8 hex>   bytes [offset, offset + size)
  // Each increment is a WAL object of its own (same format); once the whole segment is pushed
  // the streamer removes them (its own objects, like a lock).
  void push_increment(const std::string& segment, uint32_t offset, ByteSpan data);
  // The segment's bytes from offset 0 as far as the increments are contiguous (empty if none).
  Bytes assemble_increments(const std::string& segment);
  // Where a streamer resumes a segment: assemble_increments, or, with a write-only key (which
  // cannot read increments back), nothing: the segment's increments are removed and the segment
  // is streamed again from its start.
  Bytes resume_increments(const std::string& segment);
  void remove_increments(const std::string& segment);
  // Segments that have increments (streamed, not yet complete).
  void list_streamed(const std::function<void(const std::string& segment)>& visit);
  // A full segment, or a streamed partial one zero-padded to the segment size (as PostgreSQL's
  // restore_command expects); nullopt when neither exists.
  std::optional<Bytes> get_segment_or_partial(const std::string& name, uint64_t segment_size);

  std::string object_key(const std::string& name) const;
  const std::string& stanza() const { return stanza_; }

 private:
  Repository& repo_;
  std::string stanza_;
};

void validate_stanza(const std::string& stanza);

}  // namespace sr::repo

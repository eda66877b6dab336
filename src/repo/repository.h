// repo/repository.h: the repository: content-addressed, compressed, encrypted chunks in packs,
// index objects, manifests, locks. Everything above this layer stores and reads through it.
//
// Write order (the invariant that makes crashes harmless): packs are published first, then the
// index objects describing them, then the manifest that references their chunks. A crash at any
// point leaves at most packs or indexes nothing references; verify accepts them and a later
// prune removes them.
//
// The repository is opened on a Storage it is handed (open_storage, a MemoryStorage in tests, a
// decorator that measures or injects faults) and settings it is handed (RepoOptions): it reads
// no environment. Object names and envelope kinds stay inside repo/: callers use the typed
// operations below (marks, key slots, list_objects / copy_object_to, read_pack_range).
//
// Concurrency matrix (one Repository object):
//   store_chunk      any thread, concurrently with itself, lookup and read_*
//   flush, save_manifest   one thread, after all store_chunk calls of that backup returned
//   read_*, lookup, list_manifests   any thread
// Several processes may write one repository at once (each takes a shared lock); object names
// are random, so they never collide.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/log.h"
#include "codec/chunker.h"
#include "repo/client_state.h"
#include "repo/index_cache.h"
#include "repo/keys.h"
#include "repo/manifest.h"
#include "repo/objects.h"
#include "repo/pack.h"
#include "repo/tree.h"
#include "storage/storage.h"

namespace sr::repo {

// Version 2: key rings, ring slots, version 2 packs and WAL objects. A version 1 repository
// (no ring) is still opened and written; `key upgrade`/`rotate`/`export-writer` make it version 2.
constexpr int kFormatVersion = 2;

struct RepoConfig {
  std::string id;
  int version = kFormatVersion;
  codec::ChunkerParams chunker;
  int compression_level = 3;
  uint64_t pack_size = 32ull << 20;
};

struct InitOptions {
  int compression_level = 3;
  codec::ScryptParams scrypt;
};

struct RepoOptions {
  // Root of the local index caches (<cache_dir>/<repository id>/index.db); "" or an unwritable
  // directory → a private temporary cache for this Repository object.
  std::string cache_dir;
  // Receives the warnings the repository finds on its own: a repository that went backwards
  // since this client last listed it, a client state that failed authentication. Null: none.
  log::Logger* log = nullptr;
};

// What one operation (a backup) wrote: pass one to store_chunk. Thread-safe counters.
struct WriteStats {
  std::atomic<uint64_t> added_bytes{0};    // sealed blob bytes newly written to packs
  std::atomic<uint64_t> added_chunks{0};   // chunks that were not in the repository yet
  std::atomic<uint64_t> stored_chunks{0};  // every store_chunk call, new or not
};

// A manifest that could not be read (failed authentication or parsing).
struct DamagedManifest {
  std::string id;
  std::string error;
};

struct ManifestScan {
  std::vector<Manifest> readable;  // oldest first
  std::vector<DamagedManifest> damaged;
};

struct ChunkIdHash {
  size_t operator()(const codec::ChunkId& id) const {
    size_t h;
    std::memcpy(&h, id.data(), sizeof h);
    return h;
  }
};

class Repository {
 public:
  // Creates a new repository in `storage` (its container is created when missing; fails with
  // kAlreadyExists if a repository is there); returns its id.
  static std::string init(storage::Storage& storage, std::string_view password,
                          const InitOptions& options);
  // Opens the repository in `storage` with a password or key file (kNotFound when there is
  // none, kAuth when no key slot opens).
  static std::unique_ptr<Repository> open(std::unique_ptr<storage::Storage> storage,
                                          const Credential& credential,
                                          const RepoOptions& options = {});
  ~Repository();

  // Where the repository lives, for messages ("local:/srv/repo", "s3://bucket/prefix").
  std::string describe() const { return storage_->describe(); }
  // The underlying store and the key set, for repo/ itself (locks, WAL store) and its tests.
  // Layers above use the typed operations (`./run lint` rejects their use in ops/ and app/).
  storage::Storage& storage() { return *storage_; }
  const KeySet& keys() const { return keys_; }
  const RepoConfig& config() const { return config_; }
  const std::string& opened_slot() const { return slot_; }
  // Opened with a writer key file: packs and WAL objects cannot be read (kAuth).
  bool write_only() const { return keys_.write_only; }
  // Called before a version 2 object (pack, WAL object) is written: a version 1 repository's
  // config is raised to version 2 once, so older binaries refuse it by its version instead of
  // failing on the new objects. Thread-safe; a no-op after the first call.
  void ensure_format_version();
  // The newest key generation: what this object writes with.
  uint32_t key_generation() const { return keys_.newest().number; }
  const RepoOptions& options() const { return options_; }
  // Called by a RepoLock whose refresh kept failing: from then on index objects and manifests
  // are refused (Errc::kLocked with `why`), so an operation does not publish without a lock.
  void mark_lock_lost(const std::string& why);
  // Throws Errc::kLocked when mark_lock_lost was called.
  void check_lock_held() const;
  // A chunker for one stream (a copy of a prototype: the gear table is derived once).
  std::unique_ptr<codec::Chunker> make_chunker() const;

  // Brings the index cache up to date with the index objects. Damaged index objects are skipped
  // and reported by damaged_index_objects(). With check_packs (the default), also lists data/
  // once and flags the indexed packs that are missing (missing_packs()): lookups then prefer a
  // copy of a chunk in a present pack, and store_chunk and lookup_present treat chunks whose only
  // pack is missing as absent, so a backup stores them again instead of referencing lost data.
  void load_index(bool check_packs = true);
  const std::vector<std::string>& missing_packs() const { return missing_packs_; }
  const std::vector<std::string>& damaged_index_objects() const { return damaged_index_; }
  IndexCache& index();

  // Rollback detection (repo/client_state.h). load_index and scan_manifests compare their
  // listings with this client's signed state, warn (RepoOptions::log) about what disappeared,
  // and add what is new. state_diff: what this object found so far. accept_state replaces the
  // state with the repository as it is now (after an investigation).
  const StateDiff& state_diff() const { return state_diff_; }
  void accept_state();

  // Repair (ops/repair): a pack's description read from the pack itself (header and trailer,
  // authenticated; kCorrupt when damaged); publishing one index object (returns its name);
  // removing one (under an exclusive lock, after its replacement is published; recorded in the
  // client state as strongroom's own deletion).
  PackInfo read_pack_info(const std::string& pack);
  std::string write_index_object(const std::vector<PackInfo>& packs);
  void remove_index_object(const std::string& name);

  // Stores a chunk unless an identical one exists. Thread-safe.
  struct Stored {
    ChunkRef ref;
    bool added = false;
  };
  // `level` overrides the repository's compression level for this chunk (unless the repository
  // stores uncompressed). `stats`, when given, counts what this call added (one WriteStats per
  // operation: two backups through one Repository each count their own).
  // `again`: store it in a new pack even when the index has it (prune's repacking; a chunk this
  // process already stored again is not stored twice).
  Stored store_chunk(BlobType type, ByteSpan plaintext, std::optional<int> level = std::nullopt,
                     WriteStats* stats = nullptr, bool again = false);
  // Prune's repacking: stores a chunk read from its pack (`sealed`: its loc.length bytes) again
  // in a new pack without decompressing it: the payload is authenticated and decrypted with its
  // pack's key and sealed with the new pack's (a blob of a pack sealed to the restore key is
  // opened, its id recomputed, and stored anew). False when this process already stored it
  // again. Thread-safe, like store_chunk.
  bool copy_blob(const codec::ChunkId& id, const ChunkLocation& loc, ByteSpan sealed,
                 WriteStats* stats = nullptr);
  // Publishes open packs and the index objects for everything stored so far.
  void flush();
  // Writes manifests/<id>, assigning a new id when m.id is empty. Call after flush().
  std::string save_manifest(Manifest& m);

  // Every backup, oldest first. A manifest that cannot be read is never skipped silently: this
  // throws Errc::kCorrupt naming it (so `latest` cannot quietly become an older backup).
  std::vector<Manifest> list_manifests();
  // The readable manifests and, separately, the damaged ones (for listings that go on).
  ManifestScan scan_manifests();
  std::vector<std::string> list_manifest_ids();
  Manifest load_manifest(const std::string& id);
  // Resolves "latest", a full id or a unique prefix; throws kNotFound / kUsage.
  std::string resolve_backup(const std::string& spec);

  std::optional<ChunkLocation> lookup(const codec::ChunkId& id);
  // lookup, except that a chunk whose only pack is flagged missing (load_index)
  // counts as absent: what store_chunk and a backup's reuse of its parent's chunks ask.
  std::optional<ChunkLocation> lookup_present(const codec::ChunkId& id);
  // Reads, authenticates and decompresses one chunk. With check_id, also recomputes its keyed
  // id (verify --read-data); AES-GCM with the id as associated data already binds them.
  Bytes read_blob(const codec::ChunkId& id, const ChunkLocation& loc, bool check_id = false);
  Bytes read_chunk(const codec::ChunkId& id);
  // read_blob into `dst` (at least loc.raw_length bytes): no buffer of the chunk's size is
  // allocated (restores write from one aligned buffer per thread). Returns loc.raw_length.
  size_t read_blob_into(const codec::ChunkId& id, const ChunkLocation& loc, std::span<uint8_t> dst);
  // The same for a blob already read from its pack (`sealed`: its loc.length bytes).
  size_t open_blob_into(const codec::ChunkId& id, const ChunkLocation& loc, ByteSpan sealed,
                        std::span<uint8_t> dst);
  // The id a chunk with this plaintext has (or would have) in this repository.
  codec::ChunkId chunk_id(ByteSpan plaintext) const;
  // Decrypts a blob already read from a pack.
  Bytes open_blob(const codec::ChunkId& id, const ChunkLocation& loc, ByteSpan sealed,
                  bool check_id);
  // A pack's key (cached). `check_ids`, when given, is set when the pack's key was derived from
  // the restore public key (wrap 3): anyone holding a writer key can make such packs, so their
  // blobs are not trusted to hold what their ids say until the keyed id is recomputed
  // (open_blob_into does).
  codec::Key32 pack_key(const std::string& pack, std::optional<ByteSpan> wrapped = std::nullopt,
                        bool* check_ids = nullptr);
  // A key derived from the chunk-id key for one purpose (HMAC-SHA-256 of `purpose`), e.g. the
  // seed of block-map page hashes: keyed like chunk ids, without handing out the id key.
  codec::Key32 derive_id_key(std::string_view purpose) const;
  // Reads [offset, offset+length) of a pack as stored (sealed blobs back to back).
  Bytes read_pack_range(const std::string& pack, uint64_t offset, uint64_t length);

  // Marks (named restore points): one record per stanza and name, in an envelope; a later
  // save of the same name replaces it. load_mark: nullopt when there is none; kCorrupt when the
  // record is damaged.
  void save_mark(const std::string& stanza, const std::string& name, const nlohmann::json& record);
  std::optional<nlohmann::json> load_mark(const std::string& stanza, const std::string& name);

  // Holds (legal hold): a backup with a hold is never removed by expire, whatever the rules.
  // One envelope per backup, `holds/<backup id>`; save replaces, remove returns false when
  // there was none. list_holds: backup id → record; a hold that cannot be read still holds
  // (its id is in `damaged`, with the reason).
  void save_hold(const std::string& backup_id, const nlohmann::json& record);
  bool remove_hold(const std::string& backup_id);
  struct Holds {
    std::map<std::string, nlohmann::json> holds;
    std::map<std::string, std::string> damaged;  // backup id → why its hold cannot be read
  };
  Holds list_holds();

  // Deletions (expire, prune): before strongroom removes manifests or index objects it
  // publishes a deletion record (`deletions/<random>`, an envelope: only key holders can write
  // one) naming them, so that every client's rollback detection accepts their disappearance.
  // record_deletion returns the record's name. remove_manifest needs the exclusive lock and a
  // record naming it; it also drops it from this client's state.
  std::string record_deletion(const std::string& operation,
                              const std::vector<std::string>& manifests,
                              const std::vector<std::string>& index_objects);
  struct DeletionRecords {
    std::set<std::string> manifests, index_objects;
    std::vector<std::string> damaged;  // record names that cannot be read (ignored)
  };
  DeletionRecords load_deletions();
  void remove_manifest(const std::string& id);

  // Prune (ops/prune): the plan of a previous run (packs and staging files found unreferenced,
  // each with the time it was first found so; `prune/<random>`, an envelope), removing packs and
  // staging leftovers (callers hold the exclusive lock), and the staging files of a local
  // repository (`tmp/…`; none on object stores).
  std::string save_prune_plan(const nlohmann::json& plan);
  std::vector<std::pair<std::string, nlohmann::json>> list_prune_plans();  // damaged ones skipped
  void remove_prune_plan(const std::string& name);
  void remove_pack(const std::string& name);
  std::vector<storage::ObjectInfo> list_staging();

  // Restore test results (ops/restore_test): `tests/<random>`, an envelope each, written once.
  // list: oldest first by their "started_ns"; unreadable ones are skipped with a warning.
  std::string save_restore_test(const nlohmann::json& result);
  std::vector<nlohmann::json> list_restore_tests();
  void remove_staging(const std::string& key);

  // Key slots. add: a new slot for the open key set; list: oldest first; remove, under an
  // exclusive lock: never the last slot (kUsage), nor the one this object was opened with
  // (kUsage), kNotFound for an unknown id.
  std::string add_key_slot(const Credential& credential, const codec::ScryptParams& params = {});
  std::vector<KeySlotInfo> list_key_slots();
  void remove_key_slot(const std::string& id);
  // Key generations (repo/keys_ring.h), each under an exclusive lock. upgrade_key_slot: gives a
  // repository without a key ring one (config version 2) and rewrites the opened slot as a ring
  // slot; false when it already was one. rotate_keys: upgrades the opened slot, then adds a
  // generation (with a restore key pair when `add_restore` or the newest has one) and re-keys
  // every slot; returns the new generation. writer_key_text: the writer key file's content,
  // rotating first when the newest generation has no restore key pair.
  bool upgrade_key_slot();
  uint32_t rotate_keys(bool add_restore = false);
  std::string writer_key_text();

  // The objects of one kind (sorted by key; staging files never listed).
  std::vector<ObjectRef> list_objects(ObjectKind kind);
  // Copies one object to `target` (a replica of this repository), authenticating it first:
  // packs (header, trailer, every blob), envelopes, WAL objects; key slots are checked to be key
  // slots (their secret is not ours to open). Throws kCorrupt naming a damaged object, which is
  // then not copied. An object a concurrent copier already wrote counts as copied (not config).
  // Returns the bytes copied.
  // Key slots are the one kind rewritten in place (key rotate/upgrade): copy_object_to replaces a
  // target's slot, and same_object_in tells whether the target holds the same bytes.
  uint64_t copy_object_to(const ObjectRef& object, storage::Storage& target);
  bool same_object_in(const ObjectRef& object, storage::Storage& target);

 private:
  Repository() = default;
  void write_index(std::vector<PackInfo> packs);
  ClientStateFile state_file() const;
  void flag_missing_packs();  // load_index(true): sets missing_packs_
  // Compares listings with the client state, warns, and records them (repository_state.cc).
  void observe_state(const std::vector<std::string>* manifest_ids,
                     const std::vector<Manifest>* readable,
                     const std::vector<std::string>* index_names);
  // Appends a sealed-to-be payload to the open pack of its type (new pack when none is open,
  // the pack finished when full); returns its stored length.
  uint32_t append_blob(const codec::ChunkId& id, BlobType type, uint8_t flags, ByteSpan payload,
                       uint32_t raw_length, WriteStats* stats);
  void finish_pack(std::unique_ptr<PackWriter> writer);
  bool upgrade_locked();
  // Throws kLocked when the opened slot no longer names the ring this object read (another
  // command rotated or upgraded the keys meanwhile). Called under the exclusive lock.
  void check_keys_current();

  std::unique_ptr<storage::Storage> storage_;
  RepoOptions options_;
  KeySet keys_;
  RepoConfig config_;
  std::string slot_;
  std::unique_ptr<Credential> credential_;           // what opened it (for upgrading its slot)
  std::atomic<int> stored_version_{kFormatVersion};  // config's outer version when opened
  std::once_flag version_once_;
  std::once_flag cache_once_;
  std::unique_ptr<IndexCache> cache_;
  std::unique_ptr<codec::CdcChunker> chunker_;
  std::vector<std::string> damaged_index_;
  std::vector<std::string> missing_packs_;
  std::mutex state_mu_;
  StateDiff state_diff_;
  std::set<std::string> state_warned_;
  std::atomic<bool> lock_lost_{false};
  mutable std::mutex lock_lost_mu_;
  std::string lock_lost_why_;

  // Chunks stored by this process whose index object is not written yet (compact: the pack is
  // an index into pending_packs_). Bounded: an index object is written every kIndexEveryPacks
  // packs or kIndexEveryBlobs blobs, and a pack is closed at kMaxBlobsPerPack blobs.
  struct PendingChunk {
    uint32_t pack;
    BlobType type;
    uint8_t flags;
    uint32_t length, raw_length;
    uint64_t offset;
  };
  std::mutex pending_mu_;
  std::unordered_map<codec::ChunkId, PendingChunk, ChunkIdHash> pending_;
  std::vector<std::string> pending_packs_;
  std::vector<PackInfo> unindexed_;
  size_t unindexed_blobs_ = 0;
  uint32_t writer_pack_[2] = {0, 0};

  std::mutex writer_mu_[2];
  std::unique_ptr<PackWriter> writers_[2];

  std::mutex key_mu_;
  struct CachedPackKey {
    codec::Key32 key{};
    bool check_ids = false;
  };
  std::map<std::string, CachedPackKey> pack_keys_;
};

}  // namespace sr::repo

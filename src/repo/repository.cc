#include "repo/repository.h"

#include <unistd.h>

#include <algorithm>
#include <set>

#include "base/fs.h"
#include "base/json_util.h"
#include "base/random.h"
#include "base/time_util.h"
#include "codec/compress.h"
#include "repo/envelope.h"
#include "repo/index_file.h"
#include "repo/keys_ring.h"

namespace sr::repo {

using nlohmann::json;

namespace {
constexpr size_t kIndexEveryPacks = 8;
constexpr size_t kIndexEveryBlobs = 50000;
constexpr size_t kMaxBlobsPerPack = 65536;
constexpr size_t kMaxCachedPackKeys = 65536;

json config_inner(const RepoConfig& c) {
  return {{"id", c.id},
          {"version", c.version},
          {"chunker",
           {{"min", c.chunker.min_size}, {"avg", c.chunker.avg_size}, {"max", c.chunker.max_size}}},
          {"compression_level", c.compression_level},
          {"pack_size", c.pack_size}};
}

bool valid_repository_id(const std::string& id) {
  return id.size() == 32 && id.find_first_not_of("0123456789abcdef") == std::string::npos;
}

std::string open_cache_path(const std::string& root, const std::string& repo_id) {
  if (root.empty()) return "";
  // open() checked it; the cache path must never be steered by repository bytes.
  if (!valid_repository_id(repo_id)) throw Error(Errc::kCorrupt, "invalid repository id");
  try {
    mkdirs(root + "/" + repo_id, 0700);
    return root + "/" + repo_id + "/index.db";
  } catch (const Error&) {
    return "";  // not writable: fall back to a temporary cache
  }
}
}  // namespace

std::string Repository::init(storage::Storage& storage, std::string_view password,
                             const InitOptions& options) {
  storage.create_if_missing();  // the directory, bucket or container
  if (storage.stat("config"))
    throw Error(Errc::kAlreadyExists, "a repository already exists at " + storage.describe());
  if (options.compression_level < -7 || options.compression_level > 19)
    throw Error(Errc::kUsage, "compression level must be between -7 and 19");
  RepoConfig c;
  c.id = random_hex(16);
  c.compression_level = options.compression_level;
  KeySet keys = KeySet::generate();
  write_ring(storage, keys);
  repo::add_key_slot(storage, keys, password, options.scrypt);
  Bytes sealed =
      seal_envelope(keys, EnvelopeKind::kConfig, "config", as_bytes(config_inner(c).dump()));
  json outer = {{"format", "strongroom"},
                {"version", c.version},
                {"id", c.id},
                {"created", format_rfc3339(now_ns())},
                {"sealed", base64_encode(sealed)}};
  std::string text = outer.dump(2) + "\n";
  storage.put("config", as_bytes(text), true);
  return c.id;
}

std::unique_ptr<Repository> Repository::open(std::unique_ptr<storage::Storage> storage,
                                             const Credential& credential,
                                             const RepoOptions& options) {
  if (!storage) throw Error(Errc::kInternal, "Repository::open without a storage");
  Bytes raw;
  try {
    raw = storage->get("config");
  } catch (const Error& e) {
    if (e.code() == Errc::kNotFound)
      throw Error(Errc::kNotFound, "no strongroom repository at " + storage->describe() +
                                       " (create one with `strongroom init`)");
    throw;
  }
  json outer;
  try {
    outer = json::parse(as_chars(raw));
  } catch (const json::exception&) {
    throw Error(Errc::kCorrupt, storage->describe() + ": config is damaged (not JSON)");
  }
  // The outer object is read before anything is authenticated: every field is checked for its
  // type (a json type_error would escape as an unclear message).
  auto outer_string = [&outer](const char* key) {
    auto it = outer.find(key);
    return it != outer.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  if (!outer.is_object() || outer_string("format") != "strongroom")
    throw Error(Errc::kCorrupt, storage->describe() + ": config is not a strongroom config");
  int version = outer.is_object() ? json_int_or<int>(outer, "version", 0, "config") : 0;
  if (version != 1 && version != kFormatVersion)
    throw Error(Errc::kUnsupported,
                storage->describe() + " uses format version " + std::to_string(version) +
                    "; this strongroom reads versions 1 and " + std::to_string(kFormatVersion));
  auto repo = std::unique_ptr<Repository>(new Repository());
  repo->options_ = options;
  repo->stored_version_ = version;
  if (credential.key_file && is_writer_file(credential.secret)) {
    repo->keys_ = parse_writer_file(credential.secret, outer_string("id"));
  } else {
    auto [keys, slot] = open_key_slots(*storage, credential);
    repo->keys_ = keys;
    repo->slot_ = slot;
    repo->credential_ = std::make_unique<Credential>(credential);
  }
  const KeySet& keys = repo->keys_;
  if (!outer.contains("sealed") || !outer["sealed"].is_string())
    throw Error(Errc::kCorrupt, storage->describe() + ": config is damaged (no sealed part)");
  Bytes inner = open_envelope(keys, EnvelopeKind::kConfig, "config",
                              base64_decode(outer["sealed"].get<std::string>()));
  try {
    json j = json::parse(as_chars(inner));
    RepoConfig& c = repo->config_;
    c.id = j.at("id").get<std::string>();
    if (c.id != outer_string("id")) throw Error(Errc::kCorrupt, "config id mismatch");
    if (!valid_repository_id(c.id))
      throw Error(Errc::kCorrupt,
                  storage->describe() + ": config is damaged (the id is not 32 hex characters)");
    c.version = json_int<int>(j, "version", "config");
    c.chunker.min_size = json_int<uint32_t>(j.at("chunker"), "min", "config");
    c.chunker.avg_size = json_int<uint32_t>(j.at("chunker"), "avg", "config");
    c.chunker.max_size = json_int<uint32_t>(j.at("chunker"), "max", "config");
    c.chunker.validate();
    c.compression_level = json_int<int>(j, "compression_level", "config");
    c.pack_size = json_int<uint64_t>(j, "pack_size", "config");
    if (c.pack_size < (1u << 20) || c.pack_size > (1ull << 32))
      throw Error(Errc::kCorrupt, "config has an invalid pack size");
  } catch (const json::exception&) {
    throw Error(Errc::kCorrupt, storage->describe() + ": config is damaged");
  }
  repo->chunker_ = std::make_unique<codec::CdcChunker>(repo->config_.chunker, keys.chunker_seed);
  repo->storage_ = std::move(storage);
  return repo;
}

Repository::~Repository() {  // open PackWriters remove their staging files
  for (auto& [name, cached] : pack_keys_) codec::wipe(cached.key);
}

IndexCache& Repository::index() {
  // Opened on first use: commands that never look up chunks (WAL archiving) skip it.
  std::call_once(cache_once_, [this] {
    try {
      cache_ = std::make_unique<IndexCache>(open_cache_path(options_.cache_dir, config_.id));
    } catch (const Error&) {
      cache_ = std::make_unique<IndexCache>("");  // not writable here: a private temporary cache
    }
  });
  return *cache_;
}

std::unique_ptr<codec::Chunker> Repository::make_chunker() const {
  return std::make_unique<codec::CdcChunker>(*chunker_);
}

void Repository::load_index(bool check_packs) {
  std::set<std::string> present;
  storage_->list("index/", [&](const storage::ObjectInfo& o) { present.insert(o.key.substr(6)); });
  auto known = index().ingested_index_files();
  bool stale = std::any_of(known.begin(), known.end(),
                           [&](const std::string& n) { return !present.count(n); });
  if (stale) {
    index().clear();
    known.clear();
  }
  std::vector<std::string> listed(present.begin(), present.end());
  observe_state(nullptr, nullptr, &listed);
  std::set<std::string> have(known.begin(), known.end());
  damaged_index_.clear();
  for (const auto& name : present) {
    if (have.count(name)) continue;
    std::string key = "index/" + name;
    try {
      Bytes payload = open_envelope(keys_, EnvelopeKind::kIndex, key, storage_->get(key));
      index().add_index_file(name, decode_index(payload, key));
    } catch (const Error& e) {
      if (e.code() != Errc::kCorrupt) throw;
      damaged_index_.push_back(name);
    }
  }
  if (check_packs) flag_missing_packs();
}

Repository::Stored Repository::store_chunk(BlobType type, ByteSpan plaintext,
                                           std::optional<int> level, WriteStats* stats,
                                           bool again) {
  Stored out;
  if (stats) ++stats->stored_chunks;
  out.ref.id = codec::keyed_id(keys_.id_key, plaintext);
  out.ref.raw_length = static_cast<uint32_t>(plaintext.size());
  if (again) {
    std::lock_guard plock(pending_mu_);
    if (auto it = pending_.find(out.ref.id); it != pending_.end()) {
      out.ref.stored_length = it->second.length;
      return out;
    }
  } else if (auto loc = lookup_present(out.ref.id)) {
    out.ref.stored_length = loc->length;
    return out;
  }
  thread_local Bytes compressed;
  uint8_t flags = 0;
  ByteSpan payload = plaintext;
  if (config_.compression_level != 0 && plaintext.size() >= 64) {
    if (auto n = codec::compress_into(plaintext, level.value_or(config_.compression_level),
                                      compressed)) {
      flags |= kFlagCompressed;
      payload = ByteSpan(compressed).first(*n);
    }
  }
  out.ref.stored_length = append_blob(out.ref.id, type, flags, payload, out.ref.raw_length, stats);
  out.added = true;
  return out;
}

uint32_t Repository::append_blob(const codec::ChunkId& id, BlobType type, uint8_t flags,
                                 ByteSpan payload, uint32_t raw_length, WriteStats* stats) {
  const size_t t = static_cast<size_t>(type);
  std::unique_ptr<PackWriter> full;
  uint32_t length = 0;
  {
    std::lock_guard lock(writer_mu_[t]);
    if (!writers_[t]) {
      ensure_format_version();
      writers_[t] = std::make_unique<PackWriter>(keys_, storage_->staging_dir());
      std::lock_guard plock(pending_mu_);
      writer_pack_[t] = static_cast<uint32_t>(pending_packs_.size());
      pending_packs_.push_back(writers_[t]->name());
    }
    const BlobEntry& e = writers_[t]->append(id, type, flags, payload, raw_length);
    length = e.length;
    {
      std::lock_guard plock(pending_mu_);
      pending_[id] = PendingChunk{writer_pack_[t], type, flags, e.length, e.raw_length, e.offset};
    }
    if (writers_[t]->size() >= config_.pack_size || writers_[t]->count() >= kMaxBlobsPerPack)
      full = std::move(writers_[t]);
  }
  if (stats) {
    stats->added_bytes += length;
    ++stats->added_chunks;
  }
  if (full) finish_pack(std::move(full));
  return length;
}

bool Repository::copy_blob(const codec::ChunkId& id, const ChunkLocation& loc, ByteSpan sealed,
                           WriteStats* stats) {
  if (stats) ++stats->stored_chunks;
  {
    std::lock_guard plock(pending_mu_);
    if (pending_.count(id)) return false;
  }
  bool check_ids = false;
  codec::Key32 key = pack_key(loc.pack, std::nullopt, &check_ids);
  if (check_ids) {  // sealed to the restore key: the id is recomputed, so the chunk is stored anew
    codec::wipe(key);
    Bytes plain = open_blob(id, loc, sealed, true);
    return store_chunk(loc.type, plain, std::nullopt, stats, true).added;
  }
  thread_local Bytes payload;
  std::string what = "chunk " + to_hex(id).substr(0, 16) + " in pack " + loc.pack;
  try {
    codec::open_into(key, sealed, blob_aad(id, loc.type, loc.flags), payload, what.c_str());
  } catch (...) {
    codec::wipe(key);
    throw;
  }
  codec::wipe(key);
  append_blob(id, loc.type, loc.flags, payload, loc.raw_length, stats);
  return true;
}

void Repository::finish_pack(std::unique_ptr<PackWriter> writer) {
  PackInfo info = writer->finish(*storage_);
  std::vector<PackInfo> to_index;
  {
    std::lock_guard lock(pending_mu_);
    unindexed_blobs_ += info.blobs.size();
    unindexed_.push_back(std::move(info));
    if (unindexed_.size() >= kIndexEveryPacks || unindexed_blobs_ >= kIndexEveryBlobs) {
      to_index.swap(unindexed_);
      unindexed_blobs_ = 0;
    }
  }
  if (!to_index.empty()) write_index(std::move(to_index));
}

void Repository::write_index(std::vector<PackInfo> packs) {
  write_index_object(packs);
  std::lock_guard lock(pending_mu_);
  for (const auto& p : packs)
    for (const auto& b : p.blobs) pending_.erase(b.id);
}

void Repository::flush() {
  for (size_t t = 0; t < 2; ++t) {
    std::unique_ptr<PackWriter> w;
    {
      std::lock_guard lock(writer_mu_[t]);
      w = std::move(writers_[t]);
    }
    if (w && w->count() > 0) {
      PackInfo info = w->finish(*storage_);
      std::lock_guard lock(pending_mu_);
      unindexed_.push_back(std::move(info));
    }
  }
  std::vector<PackInfo> to_index;
  {
    std::lock_guard lock(pending_mu_);
    to_index.swap(unindexed_);
    unindexed_blobs_ = 0;
  }
  if (!to_index.empty()) write_index(std::move(to_index));
}

std::optional<ChunkLocation> Repository::lookup(const codec::ChunkId& id) {
  {
    std::lock_guard lock(pending_mu_);
    if (auto it = pending_.find(id); it != pending_.end()) {
      const PendingChunk& p = it->second;
      return ChunkLocation{
          pending_packs_[p.pack], p.type, p.flags, p.offset, p.length, p.raw_length};
    }
  }
  return index().lookup(id);
}

codec::Key32 Repository::pack_key(const std::string& pack, std::optional<ByteSpan> wrapped,
                                  bool* check_ids) {
  {
    std::lock_guard lock(key_mu_);
    if (auto it = pack_keys_.find(pack); it != pack_keys_.end()) {
      if (check_ids) *check_ids = it->second.check_ids;
      return it->second.key;
    }
  }
  std::optional<Bytes> w;
  if (!wrapped) {
    w = index().pack_wrapped_key(pack);
    if (!w) throw Error(Errc::kNotFound, "pack " + pack + " is not in the index");
    wrapped = ByteSpan(*w);
  }
  CachedPackKey k;
  k.key = unwrap_pack_key(keys_, pack, *wrapped);
  k.check_ids = wrapped->size() == kKeyHeaderSize && (*wrapped)[1] == kWrapX25519;
  if (check_ids) *check_ids = k.check_ids;
  std::lock_guard lock(key_mu_);
  if (pack_keys_.size() >= kMaxCachedPackKeys) {
    for (auto& [name, cached] : pack_keys_) codec::wipe(cached.key);
    pack_keys_.clear();
  }
  pack_keys_[pack] = k;
  codec::wipe(k.key);
  return pack_keys_[pack].key;
}

Bytes Repository::open_blob(const codec::ChunkId& id, const ChunkLocation& loc, ByteSpan sealed,
                            bool check_id) {
  Bytes plain(loc.raw_length);
  open_blob_into(id, loc, sealed, plain);
  if (check_id && codec::keyed_id(keys_.id_key, plain) != id)
    throw Error(Errc::kCorrupt, "chunk " + to_hex(id).substr(0, 16) + " in pack " + loc.pack +
                                    " does not match its id");
  return plain;
}

Bytes Repository::read_blob(const codec::ChunkId& id, const ChunkLocation& loc, bool check_id) {
  Bytes sealed = read_pack_range(loc.pack, loc.offset, loc.length);
  return open_blob(id, loc, sealed, check_id);
}

size_t Repository::read_blob_into(const codec::ChunkId& id, const ChunkLocation& loc,
                                  std::span<uint8_t> dst) {
  Bytes sealed = read_pack_range(loc.pack, loc.offset, loc.length);
  return open_blob_into(id, loc, sealed, dst);
}

codec::Key32 Repository::derive_id_key(std::string_view purpose) const {
  return codec::hmac_sha256(keys_.id_key, as_bytes(purpose));
}

Bytes Repository::read_pack_range(const std::string& pack, uint64_t offset, uint64_t length) {
  return storage_->get(pack_object_key(pack), offset, length);
}

size_t Repository::open_blob_into(const codec::ChunkId& id, const ChunkLocation& loc,
                                  ByteSpan sealed, std::span<uint8_t> dst) {
  if (dst.size() < loc.raw_length) throw Error(Errc::kInternal, "open_blob_into: buffer too small");
  bool check_ids = false;
  codec::Key32 key = pack_key(loc.pack, std::nullopt, &check_ids);
  std::string what = "chunk " + to_hex(id).substr(0, 16) + " in pack " + loc.pack;
  try {
    if (loc.flags & kFlagCompressed) {
      thread_local Bytes plain;
      codec::open_into(key, sealed, blob_aad(id, loc.type, loc.flags), plain, what.c_str());
      codec::decompress_to(plain, dst.first(loc.raw_length), what.c_str());
    } else {  // decrypted where it goes: no copy (a wrong length is refused before decrypting)
      codec::open_to(key, sealed, blob_aad(id, loc.type, loc.flags), dst.first(loc.raw_length),
                     what.c_str());
    }
  } catch (...) {
    codec::wipe(key);
    throw;
  }
  codec::wipe(key);
  // A pack sealed to the restore key may come from a write-only host, which could have put other
  // content under an existing chunk's id: the keyed id is recomputed.
  if (check_ids && codec::keyed_id(keys_.id_key, dst.first(loc.raw_length)) != id)
    throw Error(Errc::kCorrupt, what + " does not match its id (a substituted chunk)");
  return loc.raw_length;
}

codec::ChunkId Repository::chunk_id(ByteSpan plaintext) const {
  return codec::keyed_id(keys_.id_key, plaintext);
}

Bytes Repository::read_chunk(const codec::ChunkId& id) {
  auto loc = lookup(id);
  if (!loc)
    throw Error(Errc::kCorrupt, "chunk " + to_hex(id) + " is missing from the repository index");
  return read_blob(id, *loc);
}

}  // namespace sr::repo

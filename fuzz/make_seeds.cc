// fuzz/make_seeds.cc: writes a seed corpus for every fuzz target, made with strongroom's own
// encoders and the fixed keys of fuzz_util.h, and checks that each seed is accepted by the
// parser it is for (so a format change that makes the seeds stale fails loudly here).
//
// Usage: make_seeds OUT_DIR   (writes OUT_DIR/<target>/seed-*; run_fuzz.sh builds and runs it;
// to refresh the checked-in corpus: build-fuzz/make_seeds fuzz/corpus)
#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <iostream>

#include "codec/compress.h"
#include "fuzz_util.h"
#include "repo/index_file.h"
#include "repo/manifest.h"
#include "repo/tree.h"

using namespace sr;
using namespace sr::repo;
using nlohmann::json;

namespace {

std::string g_out;
int g_count = 0;

void mkdir_p(const std::string& path) {
  for (size_t i = 1; i <= path.size(); ++i)
    if (i == path.size() || path[i] == '/') ::mkdir(path.substr(0, i).c_str(), 0755);
}

void write_seed(const std::string& target, const std::string& name, ByteSpan data) {
  std::string dir = g_out + "/" + target;
  mkdir_p(dir);
  std::ofstream f(dir + "/seed-" + name, std::ios::binary | std::ios::trunc);
  f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
  if (!f) throw Error(Errc::kIo, "cannot write seed " + dir + "/seed-" + name);
  ++g_count;
}

Bytes prefixed(uint8_t first, ByteSpan rest) {
  Bytes out{first};
  out.insert(out.end(), rest.begin(), rest.end());
  return out;
}

codec::ChunkId id_of(uint8_t n) {
  codec::ChunkId id;
  for (size_t i = 0; i < id.size(); ++i) id[i] = static_cast<uint8_t>(n * 31 + i);
  return id;
}

// ---- tree entries ----
std::vector<Entry> sample_entries() {
  std::vector<Entry> v;
  Entry d;
  d.kind = EntryKind::kDir;
  d.path = "home/alice";
  d.mode = 0755;
  d.uid = d.gid = 1000;
  d.user = d.group = "alice";
  d.mtime_ns = 1764000000000000000;
  d.ctime_ns = 1764000000000000001;
  d.inode = 42;
  d.device = 2049;
  v.push_back(d);

  Entry f = d;
  f.kind = EntryKind::kFile;
  f.path = "home/alice/notes.txt";
  f.mode = 0644;
  f.chunks = {{id_of(1), 65536, 30000, false}, {{}, 4096, 0, true}, {id_of(2), 100, 128, false}};
  f.size = 65536 + 4096 + 100;
  v.push_back(f);

  Entry empty = f;
  empty.path = "home/alice/empty";
  empty.chunks.clear();
  empty.size = 0;
  v.push_back(empty);

  Entry s = d;
  s.kind = EntryKind::kSymlink;
  s.path = "home/alice/link";
  s.mode = 0777;
  s.link_target = "../bob/file";
  v.push_back(s);

  Entry h = f;
  h.kind = EntryKind::kHardlink;
  h.path = "home/alice/hard";
  h.chunks.clear();
  h.link_target = "home/alice/notes.txt";
  v.push_back(h);

  Entry fifo = d;
  fifo.kind = EntryKind::kFifo;
  fifo.path = "run/fifo";
  fifo.mode = 0600;
  v.push_back(fifo);

  Entry c = d;
  c.kind = EntryKind::kCharDev;
  c.path = "dev/null";
  c.mode = 0666;
  c.rdev = 0x103;
  v.push_back(c);

  Entry b = c;
  b.kind = EntryKind::kBlockDev;
  b.path = "dev/sda";
  b.rdev = 0x800;
  v.push_back(b);
  return v;
}

void tree_seeds() {
  int i = 0;
  for (const auto& e : sample_entries()) {
    ByteWriter w;
    encode_entry(e, w);
    Entry back = decode_entry(w.buffer(), "seed");
    if (back.path != e.path) throw Error(Errc::kInternal, "tree seed does not round-trip");
    write_seed("tree_entry_fuzz",
               "kind" + std::to_string(static_cast<int>(e.kind)) + "-" + std::to_string(i++),
               w.buffer());
  }
}

// Delta chunks of both forms for a three-page piece; the first three bytes give the length.
void delta_seeds() {
  constexpr uint32_t kPage = 8192;
  Bytes base(3 * kPage);
  for (size_t i = 0; i < base.size(); ++i) base[i] = static_cast<uint8_t>(i * 7 + i / 13);
  Bytes piece = base;
  piece[kPage + 20] ^= 0xff;
  piece[2 * kPage + 4000] ^= 0x0f;
  const std::vector<uint16_t> pages{1, 2};
  int i = 0;
  for (const Bytes& d :
       {encode_delta(kPage, pages, piece), encode_prefixed_delta(kPage, pages, piece, base)}) {
    Delta back = decode_delta(d, static_cast<uint32_t>(piece.size()), "seed");
    if (back.pages != pages) throw Error(Errc::kInternal, "delta seed does not round-trip");
    Bytes seed{static_cast<uint8_t>(piece.size()), static_cast<uint8_t>(piece.size() >> 8),
               static_cast<uint8_t>(piece.size() >> 16)};
    seed.insert(seed.end(), d.begin(), d.end());
    write_seed("delta_fuzz", "form" + std::to_string(++i), seed);
  }
}

// ---- blob entries, indexes, packs ----
std::vector<BlobEntry> sample_blobs(uint64_t first_offset) {
  std::vector<BlobEntry> v;
  uint64_t off = first_offset;
  for (uint8_t n = 0; n < 3; ++n) {
    BlobEntry b;
    b.id = id_of(n + 10);
    b.type = n == 2 ? BlobType::kTree : BlobType::kData;
    b.flags = n == 1 ? kFlagCompressed : 0;
    b.offset = off;
    b.length = static_cast<uint32_t>(codec::kSealOverhead + 16 + n);
    b.raw_length = n == 1 ? 1000 : 16 + n;
    off += b.length;
    v.push_back(b);
  }
  return v;
}

void blob_entry_seeds() {
  ByteWriter w;
  encode_blob_entries(w, sample_blobs(kLegacyPackHeaderSize));
  write_seed("blob_entries_fuzz", "three", w.buffer());
  ByteWriter e;
  encode_blob_entries(e, {});
  write_seed("blob_entries_fuzz", "empty", e.buffer());
}

PackInfo sample_pack_info(const std::string& name) {
  PackInfo p;
  p.name = name;
  p.wrapped_key = codec::seal(fuzz::data_key(), fuzz::pack_key(), fuzz::pack_header_aad(name));
  p.blobs = sample_blobs(kLegacyPackHeaderSize);
  p.size = p.blobs.back().offset + p.blobs.back().length + 200;
  return p;
}

void index_seeds() {
  std::vector<PackInfo> packs = {sample_pack_info(fuzz::pack_name()),
                                 sample_pack_info(std::string(64, 'f'))};
  packs[1].blobs.resize(1);
  Bytes two = encode_index(packs);
  (void)decode_index(two, "seed");
  write_seed("index_fuzz", "two-packs", two);
  write_seed("index_fuzz", "empty", encode_index({}));
}

// A real pack: sealed blobs as PackWriter writes them, trailer listing them.
Bytes sample_pack(Bytes* trailer_plain_out = nullptr, Bytes* body_out = nullptr) {
  Bytes body;
  std::vector<BlobEntry> blobs;
  for (uint8_t n = 0; n < 3; ++n) {
    Bytes payload(20 + n * 7, static_cast<uint8_t>('a' + n));
    BlobEntry b;
    b.id = id_of(n + 20);
    b.type = n == 2 ? BlobType::kTree : BlobType::kData;
    b.offset = kLegacyPackHeaderSize + body.size();
    size_t before = body.size();
    codec::seal_append(fuzz::pack_key(), payload, blob_aad(b.id, b.type, b.flags), body);
    b.length = static_cast<uint32_t>(body.size() - before);
    b.raw_length = static_cast<uint32_t>(payload.size());
    blobs.push_back(b);
  }
  ByteWriter t;
  encode_blob_entries(t, blobs);
  if (trailer_plain_out) *trailer_plain_out = t.buffer();
  if (body_out) *body_out = body;
  return fuzz::build_pack(body, t.buffer());
}

void pack_seeds() {
  Bytes trailer, body;
  Bytes pack = sample_pack(&trailer, &body);
  PackInfo info = parse_pack(fuzz::keys(), fuzz::pack_name(), pack);
  if (info.blobs.size() != 3) throw Error(Errc::kInternal, "pack seed does not parse back");
  write_seed("pack_fuzz", "raw-three-blobs", prefixed(0, pack));
  {
    ByteWriter t;
    encode_blob_entries(t, {});
    Bytes p = fuzz::build_pack({}, t.buffer());
    (void)parse_pack(fuzz::keys(), fuzz::pack_name(), p);
    write_seed("pack_fuzz", "raw-no-blobs", prefixed(0, p));
  }
  // Forged mode: 0x01 | body length (LE16) | body | trailer plaintext.
  Bytes forged{1, static_cast<uint8_t>(body.size()), static_cast<uint8_t>(body.size() >> 8)};
  forged.insert(forged.end(), body.begin(), body.end());
  forged.insert(forged.end(), trailer.begin(), trailer.end());
  write_seed("pack_fuzz", "forged-three-blobs", forged);
}

// ---- manifests and envelopes ----
Manifest sample_manifest(bool command) {
  Manifest m;
  m.id = "0123456789abcdef0123456789abcdef";
  m.host = "host1";
  m.user = "alice";
  m.time_ns = 1764000000000000000;
  m.end_time_ns = m.time_ns + 2500000000;
  m.tags = {"daily", "db"};
  m.size = 123456;
  m.stored_size = 65432;
  m.added_size = 1000;
  m.file_count = 12;
  m.dir_count = 3;
  m.tree = {to_hex(id_of(1)), to_hex(id_of(2))};
  if (command) {
    m.type = "command";
    m.name = "pgdump";
    m.command = "pg_dump -Fc shop";
    m.source = "command:pgdump";
    m.exit_status = 0;
    m.parent = "fedcba9876543210fedcba9876543210";
  } else {
    m.type = "files";
    m.paths = {"/home/alice", "/etc"};
    m.root = "/";
    m.source = "/home/alice /etc";
    m.extra["future_field"] = {{"x", 1}};
  }
  return m;
}

void manifest_seeds() {
  for (bool command : {false, true}) {
    std::string text = sample_manifest(command).to_json().dump();
    (void)Manifest::from_json(json::parse(text));
    write_seed("manifest_fuzz", command ? "command" : "files", as_bytes(text));
  }
  std::string minimal = R"({"id":"x","type":"files","time_ns":0,"tree":[]})";
  write_seed("manifest_fuzz", "minimal", as_bytes(minimal));
}

void envelope_seeds() {
  const repo::KeySet& key = fuzz::keys();
  auto seal = [&](EnvelopeKind kind, ByteSpan payload, const std::string& name) {
    std::string object_key = fuzz::envelope_object_key(kind);
    Bytes env = seal_envelope(key, kind, object_key, payload);
    Bytes back = open_envelope(key, kind, object_key, env);
    if (back.size() != payload.size()) throw Error(Errc::kInternal, "envelope seed does not open");
    write_seed("envelope_fuzz", name, env);
  };
  std::string config =
      R"({"id":"0123456789abcdef","version":1,"chunker":{"min":524288,"avg":1048576,"max":8388608},)"
      R"("compression_level":3,"pack_size":16777216})";
  seal(EnvelopeKind::kConfig, as_bytes(config), "config");
  seal(EnvelopeKind::kIndex, encode_index({sample_pack_info(fuzz::pack_name())}), "index");
  std::string manifest = sample_manifest(false).to_json().dump();
  seal(EnvelopeKind::kManifest, as_bytes(manifest), "manifest");
  std::string lock =
      R"({"host":"host1","pid":1234,"operation":"backup","exclusive":false,"time_ns":1764000000000000000})";
  seal(EnvelopeKind::kLock, as_bytes(lock), "lock");
}

// ---- zstd frames ----
void decompress_seeds() {
  std::string text;
  for (int i = 0; i < 40; ++i) text += "strongroom manifest line " + std::to_string(i) + "\n";
  Bytes frame = codec::compress_always(as_bytes(text), 3);
  (void)codec::decompress_any(frame, 1 << 20, "seed");
  write_seed("decompress_fuzz", "text", frame);
  write_seed("decompress_fuzz", "zeros", codec::compress_always(Bytes(5000, 0), 19));
  write_seed("decompress_fuzz", "empty", codec::compress_always({}, 1));
  // Two frames back to back, and a skippable frame (magic 0x184D2A50, 4 bytes of content).
  Bytes two = codec::compress_always(as_bytes(std::string_view("abc")), 1);
  Bytes second = codec::compress_always(as_bytes(std::string_view("defdefdef")), 1);
  two.insert(two.end(), second.begin(), second.end());
  write_seed("decompress_fuzz", "two-frames", two);
  write_seed("decompress_fuzz", "skippable", Bytes{0x50, 0x2a, 0x4d, 0x18, 4, 0, 0, 0, 1, 2, 3, 4});
}

// ---- ByteReader scripts, base64, hex ----
void bytes_seeds() {
  // ops: u8, u32, u64, i64, varint, raw 3, bytes, str, done
  Bytes ops = {0, 1, 2, 3, 4, 5, 3, 6, 7, 8};
  ByteWriter data;
  data.u8(7);
  data.u32(0xdeadbeef);
  data.u64(1);
  data.i64(-5);
  data.varint(300);
  data.raw(as_bytes(std::string_view("xyz")));
  data.str("hello");
  data.str("world");
  Bytes seed{static_cast<uint8_t>(ops.size())};
  seed.insert(seed.end(), ops.begin(), ops.end());
  seed.insert(seed.end(), data.buffer().begin(), data.buffer().end());
  write_seed("bytes_fuzz", "script", seed);
  write_seed("bytes_fuzz", "base64",
             as_bytes(base64_encode(as_bytes(std::string_view("key material!")))));
  write_seed("bytes_fuzz", "base64-pad", as_bytes(std::string_view("QUJDRA==")));
  write_seed("bytes_fuzz", "hex", as_bytes(to_hex(id_of(3))));
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: make_seeds OUT_DIR\n";
    return 2;
  }
  g_out = argv[1];
  try {
    tree_seeds();
    delta_seeds();
    blob_entry_seeds();
    index_seeds();
    pack_seeds();
    manifest_seeds();
    envelope_seeds();
    decompress_seeds();
    bytes_seeds();
  } catch (const std::exception& e) {
    std::cerr << "make_seeds: " << e.what() << "\n";
    return 1;
  }
  std::cout << "make_seeds: wrote " << g_count << " seeds under " << g_out << "\n";
  return 0;
}

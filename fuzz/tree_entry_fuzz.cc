// fuzz/tree_entry_fuzz.cc: repo::decode_entry (one tree record) on arbitrary bytes.
//
// Properties: decode either throws sr::Error or returns an entry whose paths are safe to join
// under a restore target (valid_relative_path), whose file chunks add up to its size, and which
// re-encodes canonically: decode(encode(e)) == e and encode is a fixed point after one round.
#include <cstddef>
#include <cstdint>

#include "fuzz_util.h"
#include "repo/tree.h"

using namespace sr;
using namespace sr::repo;

static bool same_entry(const Entry& a, const Entry& b) {
  if (a.kind != b.kind || a.path != b.path || a.mode != b.mode || a.uid != b.uid ||
      a.gid != b.gid || a.user != b.user || a.group != b.group || a.mtime_ns != b.mtime_ns ||
      a.ctime_ns != b.ctime_ns || a.inode != b.inode || a.device != b.device || a.rdev != b.rdev ||
      a.size != b.size || a.link_target != b.link_target || a.chunks.size() != b.chunks.size())
    return false;
  for (size_t i = 0; i < a.chunks.size(); ++i) {
    const ChunkRef &x = a.chunks[i], &y = b.chunks[i];
    if (x.hole != y.hole || x.raw_length != y.raw_length) return false;
    if (!x.hole && (x.id != y.id || x.stored_length != y.stored_length)) return false;
  }
  return true;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Entry e;
  try {
    e = decode_entry(ByteSpan(data, size), "fuzz tree");
  } catch (const Error&) {
    return 0;
  }
  FUZZ_CHECK(valid_relative_path(e.path));
  FUZZ_CHECK(!path_less(e.path, e.path));
  FUZZ_CHECK(e.mode <= 07777);
  FUZZ_CHECK(static_cast<uint8_t>(e.kind) >= 1 && static_cast<uint8_t>(e.kind) <= 7);
  if (e.kind == EntryKind::kHardlink) {
    FUZZ_CHECK(valid_relative_path(e.link_target));
    // path_less must be a strict weak order; restore's merge-joins rely on it.
    FUZZ_CHECK(!(path_less(e.path, e.link_target) && path_less(e.link_target, e.path)));
  }
  if (e.kind == EntryKind::kSymlink)
    FUZZ_CHECK(!e.link_target.empty() && e.link_target.find('\0') == std::string::npos);
  if (e.kind == EntryKind::kFile) {
    uint64_t total = 0;
    for (const auto& c : e.chunks) total += c.raw_length;
    FUZZ_CHECK(total == e.size);
  } else {
    FUZZ_CHECK(e.chunks.empty());
  }

  ByteWriter w1;
  encode_entry(e, w1);
  FUZZ_CHECK(w1.buffer().size() <= size);  // canonical encoding is never longer than the input
  Entry e2;
  try {
    e2 = decode_entry(w1.buffer(), "fuzz tree (re-encoded)");
  } catch (const Error& err) {
    std::fprintf(stderr, "re-encoded entry does not decode: %s\n", err.what());
    FUZZ_CHECK(false);
  }
  FUZZ_CHECK(e2.path == e.path && e2.kind == e.kind && e2.size == e.size);
  FUZZ_CHECK(same_entry(e, e2));
  ByteWriter w2;
  encode_entry(e2, w2);
  FUZZ_CHECK(w1.buffer() == w2.buffer());
  return 0;
}

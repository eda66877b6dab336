#include "ops/references.h"

#include <algorithm>

#include "base/bytes.h"
#include "repo/tree_stream.h"

namespace sr::ops {

void visit_tree_chunks(const repo::Manifest& m, const ChunkVisitor& visit) {
  for (const auto& t : m.tree) {
    if (t.size() != 64) throw Error(Errc::kCorrupt, "manifest " + m.id + " has a bad tree id");
    codec::ChunkId cid;
    Bytes raw = from_hex(t);
    std::copy(raw.begin(), raw.end(), cid.begin());
    visit(cid, "tree");
  }
}

void visit_file_chunks(repo::Repository& repo, const repo::Manifest& m, const ChunkVisitor& visit) {
  repo::TreeReader tree(repo, m);
  while (auto e = tree.next()) {
    for (const auto& c : e->chunks)
      if (!c.hole) {
        visit(c.id, "file " + e->path);
        if (c.has_delta) visit(c.delta_id, "file " + e->path);
      }
    if (e->page_map_blob) visit(e->page_map_base, "block map of " + e->path);
  }
}

}  // namespace sr::ops

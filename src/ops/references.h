// ops/references.h: the chunks a backup references (what verify checks and prune keeps).
//
// A backup references its tree chunks (the manifest's `tree`), and through the tree every file
// piece's chunk, delta chunk and block-map blob. Reading the tree needs the data key.
#pragma once

#include <functional>
#include <string>

#include "repo/repository.h"

namespace sr::ops {

using ChunkVisitor = std::function<void(const codec::ChunkId& id, const std::string& where)>;

// The manifest's tree chunks ("tree"); kCorrupt when an id is not 64 hex digits.
void visit_tree_chunks(const repo::Manifest& m, const ChunkVisitor& visit);
// Every chunk the tree's entries reference ("file PATH", "block map of PATH"). Throws what
// reading the tree throws (kCorrupt, kNotFound for a tree chunk no index lists).
void visit_file_chunks(repo::Repository& repo, const repo::Manifest& m, const ChunkVisitor& visit);

}  // namespace sr::ops

// base/path_order.h: the order of paths in a backup's tree.
//
// Paths are relative, '/'-separated byte strings. path_less orders them component by component,
// which is the order a depth-first walk with siblings sorted by name bytes visits them: "a",
// "a/b", "a-c" (the separator sorts before every name byte). The walker (source/), the tree
// stream (repo/) and the restore's merge with an existing target (ops/) all rely on it, so it
// lives in the lowest layer.
#pragma once

#include <string_view>

namespace sr {

bool path_less(std::string_view a, std::string_view b);

}  // namespace sr

// catalog/timeline_history.h: PostgreSQL timeline history files ("00000003.history").
//
// A pure value type and parser (no I/O): in the catalog because choosing a timeline path for a
// restore is a catalog decision; the namespace stays sr::pg, like base/lsn.h.
//
// Each line names a parent timeline and the LSN where the child branched off it:
//   "1\t0/3000158\tno recovery target specified". The history of timeline N lists every ancestor
// in order; blank lines and '#' comments are ignored. parse() throws kCorrupt on anything else.
#pragma once

#include <string>
#include <vector>

#include "base/lsn.h"

namespace sr::pg {

struct TimelineSwitch {
  TimelineId parent = 0;
  Lsn switchpoint;  // where `parent` ends and its child begins
  std::string reason;
};

struct TimelineHistory {
  TimelineId timeline = 1;
  std::vector<TimelineSwitch> switches;  // oldest first
  static TimelineHistory parse(TimelineId timeline, const std::string& text);
  // The timeline that contains `lsn` on the way to this timeline.
  TimelineId timeline_at(Lsn lsn) const;
};

}  // namespace sr::pg

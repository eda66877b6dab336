#include "catalog/timeline_history.h"

#include <sstream>

#include "base/error.h"

namespace sr::pg {

TimelineHistory TimelineHistory::parse(TimelineId timeline, const std::string& text) {
  TimelineHistory h;
  h.timeline = timeline;
  std::istringstream in(text);
  std::string line;
  TimelineId last = 0;
  while (std::getline(in, line)) {
    size_t start = line.find_first_not_of(" \t");
    if (start == std::string::npos || line[start] == '#') continue;
    std::istringstream fields(line);
    std::string tli, lsn;
    if (!(fields >> tli >> lsn))
      throw Error(Errc::kCorrupt,
                  "timeline history " + std::to_string(timeline) + ": bad line '" + line + "'");
    TimelineSwitch s;
    try {
      size_t used = 0;
      unsigned long v = std::stoul(tli, &used, 10);
      if (used != tli.size() || v == 0 || v >= timeline || v <= last)
        throw std::invalid_argument("tli");
      s.parent = static_cast<TimelineId>(v);
      s.switchpoint = Lsn::parse(lsn);
    } catch (const std::exception&) {
      throw Error(Errc::kCorrupt,
                  "timeline history " + std::to_string(timeline) + ": bad line '" + line + "'");
    }
    std::getline(fields >> std::ws, s.reason);
    last = s.parent;
    h.switches.push_back(s);
  }
  return h;
}

TimelineId TimelineHistory::timeline_at(Lsn lsn) const {
  for (const auto& s : switches)
    if (lsn < s.switchpoint) return s.parent;
  return timeline;
}

}  // namespace sr::pg

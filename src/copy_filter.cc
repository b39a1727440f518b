#include "resptrace/copy_filter.h"

namespace resptrace {

bool CopyFilter::IsCopy(const Segment& seg) {
  if (seg.ifindex == 0) return false;
  // Sightings of this segment per interface: seg's own, and the other interfaces' (at most
  // one entry each, in the first slots of `others`).
  uint32_t own = 0;
  struct Count {
    uint32_t ifindex;
    uint32_t n;
  };
  Count others[kRemembered];
  size_t n_others = 0;
  for (const Sighting& s : recent_) {
    if (s.seq != seg.seq || s.ifindex == 0 || s.ack != seg.ack ||
        s.payload_len != seg.payload_len || s.flags != seg.flags) {
      continue;
    }
    const int64_t apart = seg.ts_ns > s.ts_ns ? seg.ts_ns - s.ts_ns : s.ts_ns - seg.ts_ns;
    if (apart > kWindowNs) continue;
    if (s.ifindex == seg.ifindex) {
      ++own;
      continue;
    }
    size_t i = 0;
    while (i < n_others && others[i].ifindex != s.ifindex) ++i;
    if (i == n_others) others[n_others++] = Count{s.ifindex, 0};
    ++others[i].n;
  }
  bool copy = false;
  for (size_t i = 0; i < n_others; ++i) copy = copy || others[i].n > own;

  recent_[next_] = Sighting{seg.ts_ns, seg.seq, seg.ack, seg.payload_len, seg.ifindex, seg.flags};
  next_ = (next_ + 1) % kRemembered;
  return copy;
}

}  // namespace resptrace

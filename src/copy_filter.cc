#include "resptrace/copy_filter.h"

#include <cstring>

namespace resptrace {

bool CopyFilter::SeqSeen(uint32_t seq) const {
  // Eight compares in two vector ones (GCC/Clang vector extensions; plain SSE2 on x86-64).
  using Lanes = uint32_t __attribute__((vector_size(16)));
  static_assert(kRemembered == 8);
  Lanes low, high;
  std::memcpy(&low, seq_.data(), sizeof low);
  std::memcpy(&high, seq_.data() + 4, sizeof high);
  const Lanes key = {seq, seq, seq, seq};
  const auto match = (low == key) | (high == key);
  uint64_t words[2];
  std::memcpy(words, &match, sizeof words);
  return (words[0] | words[1]) != 0;
}

bool CopyFilter::IsCopy(const Segment& seg) {
  if (seg.ifindex == 0) return false;
  bool copy = false;
  if (SeqSeen(seg.seq)) {
    // Sightings of this segment per interface: seg's own, and the other interfaces' (at
    // most one entry each, in the first slots of `others`).
    uint32_t own = 0;
    struct Count {
      uint32_t ifindex;
      uint32_t n;
    };
    Count others[kRemembered];
    size_t n_others = 0;
    for (size_t i = 0; i < kRemembered; ++i) {
      if (seq_[i] != seg.seq || ifindex_[i] == 0 || ack_[i] != seg.ack ||
          payload_len_[i] != seg.payload_len || flags_[i] != seg.flags) {
        continue;
      }
      const int64_t apart = seg.ts_ns > ts_ns_[i] ? seg.ts_ns - ts_ns_[i] : ts_ns_[i] - seg.ts_ns;
      if (apart > kWindowNs) continue;
      if (ifindex_[i] == seg.ifindex) {
        ++own;
        continue;
      }
      size_t j = 0;
      while (j < n_others && others[j].ifindex != ifindex_[i]) ++j;
      if (j == n_others) others[n_others++] = Count{ifindex_[i], 0};
      ++others[j].n;
    }
    for (size_t j = 0; j < n_others; ++j) copy = copy || others[j].n > own;
  }
  seq_[next_] = seg.seq;
  ack_[next_] = seg.ack;
  payload_len_[next_] = seg.payload_len;
  ifindex_[next_] = seg.ifindex;
  ts_ns_[next_] = seg.ts_ns;
  flags_[next_] = seg.flags;
  next_ = (next_ + 1) % kRemembered;
  return copy;
}

}  // namespace resptrace

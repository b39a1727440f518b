// Tells apart, in one direction of one connection, the copies of a segment that a second
// interface captured (with every interface traced, a segment from a host to its container
// passes the bridge and then the container's veth) from retransmissions, which the same
// interface captures again.
#ifndef RESPTRACE_COPY_FILTER_H_
#define RESPTRACE_COPY_FILTER_H_

#include <array>
#include <cstddef>
#include <cstdint>

#include "resptrace/segment.h"

namespace resptrace {

class CopyFilter {
 public:
  // How far apart in capture time the copies of one segment can be. They are microseconds
  // apart: the hooks of both interfaces run in the same softirq or the same transmit call.
  // 1 ms leaves a wide margin, and is shorter than any timer-driven retransmission of Linux
  // (the tail loss probe waits 2 RTT + 2 jiffies, over 1 ms whatever HZ; the RTO at least
  // 200 ms). Fast retransmissions can come sooner on a LAN: counting sightings per interface
  // tells those apart (see IsCopy).
  static constexpr int64_t kWindowNs = 1'000'000;
  // Recent segments remembered. Copies of one segment follow each other closely in the
  // capture, with at most a few segments of other CPUs between them.
  static constexpr size_t kRemembered = 8;

  // True when `seg` is a copy to drop: another interface captured this very segment (same
  // sequence and acknowledgement numbers, flags and length) more often than seg's own
  // interface did within kWindowNs, so seg's interface is catching up with a segment that
  // went on. A retransmission is seen once more on every interface and stays a segment.
  // A segment of an unknown interface (ifindex 0) is never a copy, nor remembered.
  bool IsCopy(const Segment& seg);

 private:
  // Whether any remembered sighting has this sequence number.
  bool SeqSeen(uint32_t seq) const;

  // The recent sightings, one array per field: most segments match none by sequence
  // number, which one compare of the packed `seq_` tells, live on every segment.
  std::array<uint32_t, kRemembered> seq_{};
  std::array<uint32_t, kRemembered> ack_{};
  std::array<uint32_t, kRemembered> payload_len_{};
  std::array<uint32_t, kRemembered> ifindex_{};  // 0: an empty slot
  std::array<int64_t, kRemembered> ts_ns_{};
  std::array<uint8_t, kRemembered> flags_{};
  size_t next_ = 0;  // the slot the next sighting replaces
};

}  // namespace resptrace

#endif  // RESPTRACE_COPY_FILTER_H_

// One TCP segment as seen on the wire: the unit every capture source produces and
// everything after the source consumes.
#ifndef RESPTRACE_SEGMENT_H_
#define RESPTRACE_SEGMENT_H_

#include <cstdint>
#include <string_view>

#include "resptrace/flow_key.h"

namespace resptrace {

namespace tcp_flags {
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kPsh = 0x08;
inline constexpr uint8_t kAck = 0x10;
}  // namespace tcp_flags

struct Segment {
  int64_t ts_ns = 0;  // capture time, nanoseconds since the Unix epoch
  FlowKey flow;       // as sent: flow.src -> flow.dst
  uint32_t seq = 0;
  uint32_t ack = 0;
  uint8_t flags = 0;  // tcp_flags bits
  // The payload bytes that were captured. May be shorter than payload_len when the
  // capture cut the frame (snaplen): the rest are missing bytes, not absent ones.
  std::string_view payload;
  uint32_t payload_len = 0;  // TCP payload length on the wire
  uint32_t wire_len = 0;     // whole frame length on the wire
  // The interface that captured it, so that a copy of a segment captured again on a second
  // interface is told apart from a retransmission: a kernel ifindex (eBPF, Linux cooked v2
  // frames) or a pcapng file's interface number + 1. 0: unknown.
  uint32_t ifindex = 0;
  bool outgoing = false;  // sent by the capturing host, when the source says so

  bool has(uint8_t flag) const { return (flags & flag) != 0; }
};

}  // namespace resptrace

#endif  // RESPTRACE_SEGMENT_H_

// Per-direction TCP stream reassembly: in-order delivery, bounded out-of-order buffering,
// retransmissions and overlaps delivered once, sequence wraparound, and gaps reported as
// gaps instead of wrong bytes.
#ifndef RESPTRACE_REASSEMBLER_H_
#define RESPTRACE_REASSEMBLER_H_

#include <cstdint>
#include <string>
#include <vector>

#include "resptrace/segment.h"
#include "resptrace/stream_consumer.h"

namespace resptrace {

struct ReassemblerLimits {
  // Bytes held out of order per direction; past this the oldest hole is declared a gap.
  uint64_t max_buffered_bytes = 4 << 20;
  // Out-of-order segments held per direction.
  uint32_t max_buffered_segments = 1024;
};

struct ReassemblyCounters {
  uint64_t segments = 0;          // segments with payload pushed
  uint64_t bytes_delivered = 0;
  uint64_t out_of_order = 0;      // segments that arrived ahead of a hole
  uint64_t retransmitted = 0;     // segments wholly made of bytes already delivered/buffered
  uint64_t overlapping = 0;       // segments partly made of such bytes
  uint64_t overlap_bytes = 0;     // bytes dropped as already seen
  uint64_t gaps = 0;              // holes declared missing for good
  uint64_t gap_bytes = 0;
  uint64_t buffer_overflows = 0;  // holes forced closed by the limits above
};

class Reassembler {
 public:
  Reassembler(const ReassemblerLimits& limits, ReassemblyCounters* counters);

  // Feeds one segment travelling in this direction. A SYN sets the initial sequence
  // number; without one, the first segment seen starts the stream (mid-stream join).
  // Captured bytes short of seg.payload_len (snaplen) become a gap after the captured ones.
  void Push(const Segment& seg, StreamConsumer& out);

  // The peer acknowledged everything before `ack`: bytes below it that never arrived will
  // not come (the receiver had them, the capture did not). Declares such holes as gaps
  // and delivers what was buffered behind them.
  void OnPeerAck(uint32_t ack, int64_t ts_ns, StreamConsumer& out);

  // End of stream (FIN/RST seen and settled, idle timeout, end of capture): every hole
  // still open becomes a gap and everything buffered is delivered.
  void Flush(int64_t ts_ns, StreamConsumer& out);

  bool started() const { return started_; }
  // Bytes held out of order right now.
  uint64_t buffered_bytes() const { return buffered_bytes_; }
  // Relative stream offset of the next byte expected.
  uint64_t next_offset() const { return next_; }
  // Absolute sequence number of the next byte expected (only meaningful once started).
  uint32_t next_seq() const { return isn_ + static_cast<uint32_t>(next_); }

 private:
  struct Pending {
    uint64_t offset;      // stream offset of data[0]
    uint64_t wire_len;    // bytes this segment covers on the wire (>= data.size())
    int64_t ts_ns;
    std::string data;     // captured bytes
  };
  // 64-bit stream offset of a 32-bit sequence number, near the current position.
  uint64_t OffsetOf(uint32_t seq) const;
  void Deliver(uint64_t offset, std::string_view data, uint64_t wire_len, int64_t ts_ns,
               StreamConsumer& out);
  void DrainPending(StreamConsumer& out);
  void Insert(uint64_t offset, std::string_view data, uint64_t wire_len, int64_t ts_ns);
  void SkipTo(uint64_t offset, int64_t ts_ns, StreamConsumer& out);

  ReassemblerLimits limits_;
  ReassemblyCounters* counters_;
  bool started_ = false;
  uint32_t isn_ = 0;     // sequence number of stream offset 0
  uint64_t next_ = 0;    // next offset to deliver
  uint64_t buffered_bytes_ = 0;
  std::vector<Pending> pending_;  // sorted by offset, non-overlapping
};

}  // namespace resptrace

#endif  // RESPTRACE_REASSEMBLER_H_

// Per-direction TCP stream reassembly: in-order delivery, bounded out-of-order buffering,
// retransmissions and overlaps delivered once, sequence wraparound, and gaps reported as
// gaps instead of wrong bytes.
#ifndef RESPTRACE_REASSEMBLER_H_
#define RESPTRACE_REASSEMBLER_H_

#include <cstddef>
#include <cstdint>
#include <optional>
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
                                  // (ShedOldestHole's are its caller's to count)
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

  // True when the peer's `ack` acknowledges bytes not yet delivered: OnPeerAck would
  // declare them missing. The capture lost them, or has them still to come (reordered).
  bool Lacks(uint32_t ack) const;
  // Gives up waiting for the oldest hole, for an owner that bounds what is held: it
  // becomes a gap, and the bytes held behind it are delivered up to the next hole.
  void ShedOldestHole(int64_t ts_ns, StreamConsumer& out);

  bool started() const { return started_; }
  // Bytes held out of order right now.
  uint64_t buffered_bytes() const { return buffered_bytes_; }
  // Memory held for them: the bytes, and each run's bookkeeping (0 when none is held).
  uint64_t held_bytes() const { return buffered_bytes_ + pending_.capacity() * kRunBytes; }
  // Relative stream offset of the next byte expected.
  uint64_t next_offset() const { return next_; }
  // The sequence number of stream offset 0: what it is, or what it will be once `seg`, the
  // next segment pushed, has started the stream.
  uint32_t OffsetZeroSeq(const Segment& seg) const {
    return started_ ? isn_ : seg.seq + (seg.has(tcp_flags::kSyn) ? 1 : 0);
  }
  // Absolute sequence number of the next byte expected (only meaningful once started).
  uint32_t next_seq() const { return isn_ + static_cast<uint32_t>(next_); }

 private:
  // A run of bytes held ahead of a hole. A run without data stands for bytes known to be
  // missing (cut by the snaplen): the gap is declared in their place when they come next,
  // unless real bytes for the same range arrive first and replace them.
  struct Pending {
    uint64_t offset;   // stream offset of the run's first byte
    uint64_t len;      // bytes the run covers
    int64_t ts_ns;     // capture time of the segment that carried them
    std::optional<uint32_t> ack;  // that segment's acknowledgement
    std::string data;  // the `len` bytes, or empty when they are known missing
  };
  // Offset of the FIN while none has been seen.
  static constexpr uint64_t kNoFin = UINT64_MAX;
  // A run's slot, and the allocator's header on its bytes.
  static constexpr uint64_t kRunBytes = sizeof(Pending) + 16;

  // Stream offset of a sequence number, taken within 2^31 of the next expected byte;
  // negative for bytes before the stream start.
  int64_t OffsetOf(uint32_t seq) const;
  void PushSlow(const Segment& seg, StreamConsumer& out);
  // Delivers from next_ up to `end`, taking buffered runs where they exist (first arrival
  // wins) and otherwise the new bytes: `data` holds those of [next_, captured_end), the
  // rest up to `end` are missing. Then drains the buffered runs that follow. Returns how
  // many of the new bytes were already buffered.
  uint64_t DeliverInOrder(uint64_t captured_end, uint64_t end, const char* data, int64_t ts_ns,
                          std::optional<uint32_t> ack, StreamConsumer& out);
  void DrainPending(StreamConsumer& out);
  // Buffers the parts of [offset, end) not covered by a run yet; `data` holds their bytes,
  // or is null for missing bytes. Returns how many bytes were covered already.
  uint64_t Buffer(uint64_t offset, uint64_t end, const char* data, int64_t ts_ns,
                  std::optional<uint32_t> ack);
  // Drops missing-byte runs within [offset, end): real bytes for that range have arrived.
  void ForgetMissing(uint64_t offset, uint64_t end);
  // Index of the first run ending after `offset`.
  size_t FirstRunEndingAfter(uint64_t offset) const;
  void EnforceLimits(int64_t ts_ns, StreamConsumer& out);
  // Declares the bytes from next_ up to `offset` missing.
  void SkipTo(uint64_t offset, int64_t ts_ns, StreamConsumer& out);
  void Gap(uint64_t bytes, int64_t ts_ns, StreamConsumer& out);

  ReassemblerLimits limits_;
  ReassemblyCounters* counters_;
  bool started_ = false;
  uint32_t isn_ = 0;     // sequence number of stream offset 0
  uint64_t next_ = 0;    // next offset to deliver
  uint64_t fin_offset_ = kNoFin;  // the FIN's offset: an ack past data acknowledges it too
  uint64_t buffered_bytes_ = 0;
  // Sorted by offset, non-overlapping, all past next_ (the first run starts after a hole).
  // Its memory is given back whenever it empties.
  std::vector<Pending> pending_;
};

}  // namespace resptrace

#endif  // RESPTRACE_REASSEMBLER_H_

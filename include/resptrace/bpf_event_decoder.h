// Turns the eBPF program's ring-buffer records (include/resptrace/bpf_event.h) into the
// Segments the collector takes, joining the chunks of a large segment.
#ifndef RESPTRACE_BPF_EVENT_DECODER_H_
#define RESPTRACE_BPF_EVENT_DECODER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "resptrace/bpf_event.h"
#include "resptrace/segment.h"

namespace resptrace {

struct BpfDecodeCounters {
  uint64_t records = 0;
  uint64_t segments = 0;
  uint64_t malformed_records = 0;  // shorter than their header says: never expected
  uint64_t broken_chunks = 0;      // a segment whose chunks did not all arrive (ring full)
};

class BpfEventDecoder {
 public:
  // `monotonic_to_epoch_ns` is added to the program's CLOCK_MONOTONIC timestamps.
  explicit BpfEventDecoder(int64_t monotonic_to_epoch_ns);

  // Handles one record. `Sink` is called as sink(const Segment&) for each complete segment;
  // the segment's payload is valid during the call only.
  template <typename Sink>
  void OnRecord(const void* data, size_t size, Sink&& sink) {
    const Segment* s = Decode(data, size);
    if (broken_ready_) {  // a segment of the same CPU, ended by this record: it came first
      broken_ready_ = false;
      sink(broken_);
    }
    if (s != nullptr) sink(*s);
  }

  // Hands over, as far as its chunks came, each segment stamped before `before_ns`
  // (CLOCK_MONOTONIC) still waiting for a chunk. The program reserves a segment's chunks
  // back to back and runs to its end without sleeping, in microseconds: one whose next
  // chunk has not come by kChunkWaitNs after its stamp lost it to a full ring. Call after
  // each drain, and with UINT64_MAX at the end.
  template <typename Sink>
  void FlushStalled(uint64_t before_ns, Sink&& sink) {
    for (Assembly& a : per_cpu_) {
      if (!a.active || a.header.timestamp_ns + kChunkWaitNs >= before_ns) continue;
      EndBroken(a);
      broken_ready_ = false;
      sink(broken_);
    }
  }
  static constexpr uint64_t kChunkWaitNs = 10'000'000;

  const BpfDecodeCounters& counters() const { return counters_; }

  // The current offset between CLOCK_REALTIME and CLOCK_MONOTONIC.
  static int64_t MonotonicToEpochNow();

 private:
  // A complete segment, or nullptr while its chunks are still arriving.
  const Segment* Decode(const void* data, size_t size);
  Segment SegmentOf(const resptrace_bpf_event& e) const;

  struct Assembly {
    resptrace_bpf_event header{};
    std::string payload;  // chunks so far, in order
    bool active = false;
  };

  // A segment whose chunks stopped coming (the ring was full when the program reserved the
  // next one): what came, in order, is kept; the rest counts as not captured.
  void EndBroken(Assembly& a);

  int64_t offset_ns_;
  BpfDecodeCounters counters_;
  Segment current_;
  std::vector<Assembly> per_cpu_;  // chunked segments in progress, by capturing CPU
  Segment broken_;                 // the last one EndBroken ended, its payload in broken_payload_
  std::string broken_payload_;
  bool broken_ready_ = false;      // broken_ is still to be handed over
};

}  // namespace resptrace

#endif  // RESPTRACE_BPF_EVENT_DECODER_H_

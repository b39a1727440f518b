// Reassembly cost per segment: the in-order path and a reordered one.
#include <cstdint>
#include <string>

#include "benchmark/benchmark.h"
#include "resptrace/reassembler.h"

namespace resptrace {
namespace {

constexpr uint32_t kSegmentSize = 1460;

class Sum : public StreamConsumer {
 public:
  void OnData(std::string_view bytes, int64_t, std::optional<uint32_t>) override {
    total += bytes.size();
  }
  void OnGap(uint64_t bytes, int64_t) override { total += bytes; }
  uint64_t total = 0;
};

Segment DataSegment(uint32_t seq, std::string_view payload) {
  Segment s;
  s.seq = seq;
  s.flags = tcp_flags::kAck;
  s.payload = payload;
  s.payload_len = static_cast<uint32_t>(payload.size());
  return s;
}

// Pushes `pairs` pairs of segments per iteration, the second of each pair first when
// `swap` is set (every pair arrives out of order and is delivered from the buffer).
void Run(benchmark::State& state, bool swap) {
  const std::string payload(kSegmentSize, 'x');
  ReassemblyCounters counters;
  Reassembler r(ReassemblerLimits{}, &counters);
  Sum out;
  Segment syn;
  syn.seq = 0xFFFF0000u;  // wraps during the run
  syn.flags = tcp_flags::kSyn;
  r.Push(syn, out);
  constexpr int kPairs = 512;
  for (auto _ : state) {
    for (int i = 0; i < kPairs; ++i) {
      const uint32_t seq = r.next_seq();
      const Segment first = DataSegment(seq, payload);
      const Segment second = DataSegment(seq + kSegmentSize, payload);
      if (swap) {
        r.Push(second, out);
        r.Push(first, out);
      } else {
        r.Push(first, out);
        r.Push(second, out);
      }
    }
  }
  benchmark::DoNotOptimize(out.total);
  if (counters.bytes_delivered != out.total || counters.gaps != 0) {
    state.SkipWithError("reassembly lost bytes");
  }
  const int64_t segments = state.iterations() * kPairs * 2;
  state.SetItemsProcessed(segments);
  state.SetBytesProcessed(segments * kSegmentSize);
  state.counters["ns_per_segment"] = benchmark::Counter(
      static_cast<double>(segments), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_InOrder(benchmark::State& state) { Run(state, false); }
void BM_SwappedPairs(benchmark::State& state) { Run(state, true); }

BENCHMARK(BM_InOrder);
BENCHMARK(BM_SwappedPairs);

}  // namespace
}  // namespace resptrace

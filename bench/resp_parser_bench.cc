// Throughput of the RESP parser on redis-benchmark-like streams, fed in 16 KiB pieces as
// TCP reassembly would hand them over.
#include <cstdint>
#include <string>
#include <string_view>

#include <benchmark/benchmark.h>

#include "resptrace/resp_parser.h"

namespace resptrace {
namespace {

constexpr size_t kPiece = 16 << 10;
constexpr size_t kStreamBytes = 1 << 20;

// Does the little a consumer must do per event: count and sum sizes. The calls stay
// virtual, as in the real pipeline.
class CountingHandler : public RespHandler {
 public:
  uint64_t messages = 0;
  uint64_t scalars = 0;
  uint64_t payload = 0;
  void OnMessageBegin(int64_t, bool) override {}
  void OnAggregate(RespType, int64_t count) override { payload += static_cast<uint64_t>(count); }
  void OnScalar(const ScalarPiece& p) override {
    ++scalars;
    payload += p.data.size();
  }
  void OnMessageEnd(int64_t, uint64_t bytes) override {
    ++messages;
    payload += bytes;
  }
  void OnProtocolError(RespError, int64_t, uint64_t) override { std::abort(); }
  void OnResync(uint64_t, int64_t) override {}
};

std::string Repeat(std::string_view message, size_t bytes) {
  std::string s;
  while (s.size() < bytes) s += message;
  return s;
}

void FeedStream(benchmark::State& state, RespRole role, const std::string& stream) {
  CountingHandler handler;
  RespParser parser(role, RespLimits{}, &handler);
  for (auto _ : state) {
    for (size_t pos = 0; pos < stream.size(); pos += kPiece) {
      parser.Feed(std::string_view(stream).substr(pos, kPiece), static_cast<int64_t>(pos));
    }
    benchmark::DoNotOptimize(handler.payload);
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * stream.size()));
  state.counters["msgs"] = benchmark::Counter(static_cast<double>(handler.messages),
                                              benchmark::Counter::kIsRate);
  state.counters["per_msg"] = benchmark::Counter(
      static_cast<double>(handler.messages), benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_RequestSetStream(benchmark::State& state) {
  FeedStream(state, RespRole::kRequest,
             Repeat("*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000123\r\n$3\r\nxxx\r\n", kStreamBytes));
}
BENCHMARK(BM_RequestSetStream);

void BM_RequestInlinePingStream(benchmark::State& state) {
  FeedStream(state, RespRole::kRequest, Repeat("PING\r\n", kStreamBytes));
}
BENCHMARK(BM_RequestInlinePingStream);

void BM_ReplyOkStream(benchmark::State& state) {
  FeedStream(state, RespRole::kReply, Repeat("+OK\r\n", kStreamBytes));
}
BENCHMARK(BM_ReplyOkStream);

void BM_ReplyBulkStream(benchmark::State& state) {
  FeedStream(state, RespRole::kReply, Repeat("$3\r\nxxx\r\n", kStreamBytes));
}
BENCHMARK(BM_ReplyBulkStream);

void BM_ReplyLrange600(benchmark::State& state) {
  std::string reply = "*600\r\n";
  for (int i = 0; i < 600; ++i) reply += "$3\r\nxxx\r\n";
  FeedStream(state, RespRole::kReply, Repeat(reply, kStreamBytes));
}
BENCHMARK(BM_ReplyLrange600);

}  // namespace
}  // namespace resptrace

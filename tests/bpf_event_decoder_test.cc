#include "resptrace/bpf_event_decoder.h"

#include <arpa/inet.h>

#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace resptrace {
namespace {

std::string Record(uint32_t cpu, uint32_t seq, uint32_t payload_len, uint32_t captured_len,
                   uint32_t offset, std::string_view chunk, uint32_t ifindex = 1,
                   uint8_t direction = RESPTRACE_BPF_DIR_INGRESS) {
  resptrace_bpf_event e{};
  e.timestamp_ns = 1000;
  e.ifindex = ifindex;
  e.direction = direction;
  e.cpu = cpu;
  e.ip_version = 4;
  e.tcp_flags = RESPTRACE_BPF_TCP_ACK | RESPTRACE_BPF_TCP_PSH;
  e.sport = 50000;
  e.dport = 6379;
  const uint8_t src[4] = {127, 0, 0, 1}, dst[4] = {127, 0, 0, 2};
  std::memcpy(e.saddr, src, 4);
  std::memcpy(e.daddr, dst, 4);
  e.seq = seq;
  e.ack = 7;
  e.payload_len = payload_len;
  e.captured_len = captured_len;
  e.chunk_offset = offset;
  e.chunk_len = static_cast<uint32_t>(chunk.size());
  std::string r(reinterpret_cast<const char*>(&e), sizeof e);
  r.append(chunk);
  r.append(5, '\0');  // records may be longer than header + chunk (size classes)
  return r;
}

struct Got {
  std::string flow, payload;
  uint32_t seq, payload_len;
  int64_t ts;
  uint32_t ifindex;
  bool outgoing;
};

std::vector<Got> Feed(BpfEventDecoder& d, const std::vector<std::string>& records) {
  std::vector<Got> got;
  for (const std::string& r : records) {
    d.OnRecord(r.data(), r.size(), [&](const Segment& s) {
      got.push_back(Got{s.flow.src.ToString() + ">" + s.flow.dst.ToString(), std::string(s.payload),
                        s.seq, s.payload_len, s.ts_ns, s.ifindex, s.outgoing});
    });
  }
  return got;
}

TEST(BpfEventDecoderTest, OneRecordSegment) {
  BpfEventDecoder d(5'000);
  auto got = Feed(d, {Record(0, 100, 5, 5, 0, "+OK\r\n")});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].flow, "127.0.0.1:50000>127.0.0.2:6379");
  EXPECT_EQ(got[0].payload, "+OK\r\n");
  EXPECT_EQ(got[0].seq, 100u);
  EXPECT_EQ(got[0].ts, 6'000);
}

TEST(BpfEventDecoderTest, ChunksJoinedPerCpuEvenInterleaved) {
  BpfEventDecoder d(0);
  auto got = Feed(d, {Record(0, 1, 6, 6, 0, "abc"), Record(1, 9, 2, 2, 0, "xy"),
                      Record(0, 1, 6, 6, 3, "def")});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "xy");
  EXPECT_EQ(got[1].payload, "abcdef");
  EXPECT_EQ(d.counters().broken_chunks, 0u);
}

TEST(BpfEventDecoderTest, BytesPastTheSnaplenAreMissingNotLost) {
  BpfEventDecoder d(0);
  auto got = Feed(d, {Record(0, 1, 100, 4, 0, "$96\r")});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "$96\r");
  EXPECT_EQ(got[0].payload_len, 100u);
}

TEST(BpfEventDecoderTest, AMissingChunkKeepsWhatCameInOrder) {
  BpfEventDecoder d(0);
  auto got = Feed(d, {Record(0, 1, 9, 9, 0, "abc"), Record(0, 1, 9, 9, 6, "ghi")});
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].payload, "abc");
  EXPECT_EQ(got[0].payload_len, 9u);  // the other six bytes are missing: a gap downstream
  EXPECT_EQ(d.counters().broken_chunks, 2u);  // the segment, and the chunk without its start
}

// The program stops at the first chunk its ring has no room for: the chunks before it are
// the segment as captured, delivered once the CPU's next record shows no more are coming,
// before that record.
TEST(BpfEventDecoderTest, ChunksStoppedByAFullRingAreDeliveredAsFarAsTheyCame) {
  BpfEventDecoder d(0);
  auto got = Feed(d, {Record(0, 1, 9, 9, 0, "abc"), Record(1, 50, 2, 2, 0, "xy"),
                      Record(0, 10, 2, 2, 0, "ok")});
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].payload, "xy");
  EXPECT_EQ(got[1].payload, "abc");
  EXPECT_EQ(got[1].seq, 1u);
  EXPECT_EQ(got[1].payload_len, 9u);
  EXPECT_EQ(got[2].payload, "ok");
  // A new chunked segment ends one too.
  got = Feed(d, {Record(0, 20, 6, 6, 0, "abc"), Record(0, 30, 6, 6, 0, "def"),
                 Record(0, 30, 6, 6, 3, "ghi")});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].payload, "abc");
  EXPECT_EQ(got[0].seq, 20u);
  EXPECT_EQ(got[1].payload, "defghi");
  EXPECT_EQ(d.counters().broken_chunks, 2u);
}

// With no later record of its CPU, a segment still waiting for a chunk 10 ms after its
// stamp is delivered as it is by FlushStalled; one stamped later still waits.
TEST(BpfEventDecoderTest, AStalledSegmentIsDeliveredAfterTheWait) {
  BpfEventDecoder d(0);
  std::vector<std::string> got;
  const auto sink = [&](const Segment& s) { got.emplace_back(s.payload); };
  const std::string r = Record(0, 1, 9, 9, 0, "abc");  // stamped at 1000 ns
  d.OnRecord(r.data(), r.size(), sink);
  d.FlushStalled(1000 + BpfEventDecoder::kChunkWaitNs, sink);
  EXPECT_TRUE(got.empty());
  d.FlushStalled(1001 + BpfEventDecoder::kChunkWaitNs, sink);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], "abc");
  d.FlushStalled(UINT64_MAX, sink);
  EXPECT_EQ(got.size(), 1u);
  EXPECT_EQ(d.counters().broken_chunks, 1u);
}

TEST(BpfEventDecoderTest, SegmentsKeepTheirInterfaceAndDirection) {
  BpfEventDecoder d(0);
  auto got = Feed(d, {Record(0, 1, 5, 5, 0, "+OK\r\n", 7, RESPTRACE_BPF_DIR_EGRESS),
                      Record(1, 9, 6, 6, 0, "abc", 8, RESPTRACE_BPF_DIR_INGRESS),
                      Record(1, 9, 6, 6, 3, "def", 8, RESPTRACE_BPF_DIR_INGRESS)});
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].ifindex, 7u);
  EXPECT_TRUE(got[0].outgoing);
  EXPECT_EQ(got[1].payload, "abcdef");
  EXPECT_EQ(got[1].ifindex, 8u);
  EXPECT_FALSE(got[1].outgoing);
}

TEST(BpfEventDecoderTest, MalformedRecordsAreCounted) {
  BpfEventDecoder d(0);
  std::string r = Record(0, 1, 3, 3, 0, "abc");
  auto got = Feed(d, {r.substr(0, 40), r.substr(0, 81)});
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(d.counters().malformed_records, 2u);
}

}  // namespace
}  // namespace resptrace

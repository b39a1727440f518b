// The kernel programs in bpf/resptrace.bpf.c, run on crafted frames with
// BPF_PROG_TEST_RUN: exact ring-buffer records and counters. Needs root and a kernel with
// BTF; otherwise skipped, unless RESPTRACE_REQUIRE_BPF=1 makes that a failure.
//
// BPF_PROG_TEST_RUN takes at most 3,712 bytes of data for TC programs on this kernel (one
// linear page less skb overhead: more is EINVAL), so larger frames go through the XDP
// program, which is xdp.frags and takes page fragments: both share the parsing and
// chunking code.
#include <time.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "bpf_program_runner.h"
#include "gtest/gtest.h"
#include "pcap_builder.h"
#include "resptrace/bpf_event.h"

namespace resptrace::test {
namespace {

constexpr uint32_t kTcActUnspec = static_cast<uint32_t>(-1);
constexpr uint32_t kXdpPass = 2;
constexpr uint32_t kLoopbackIfindex = 1;  // test runs use lo unless told otherwise
constexpr size_t kHeaderSize = sizeof(resptrace_bpf_event);
constexpr uint8_t kPshAck = tcp_flags::kPsh | tcp_flags::kAck;
constexpr uint16_t kRedisPort = 6379;

int64_t MonotonicNowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

std::string Payload(size_t size) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>('a' + (i * 7 + i / 251) % 26);
  return s;
}

std::string Ipv4Frame(const TcpHeader& tcp, const std::string& payload) {
  return EthernetFrame(kEtherIpv4, TcpIpPacket("10.0.0.1", "10.0.0.2", tcp, payload));
}

std::string AddressField(const std::string& text) {
  std::string field = AddressBytes(ParseIp(text));
  field.resize(16, '\0');
  return field;
}

class BpfProgramTest : public ::testing::Test {
 protected:
  // Loads the programs with the default configuration, port 6379 kept. Skips (or fails
  // under RESPTRACE_REQUIRE_BPF=1) when the kernel refuses.
  void SetUp() override {
    const std::string error = runner_.Load(BpfProgramConfig{}, kRedisPort);
    if (error.empty()) return;
    const char* require = std::getenv("RESPTRACE_REQUIRE_BPF");
    if (require != nullptr && std::string(require) == "1") {
      FAIL() << error;
    }
    GTEST_SKIP() << error << " (needs root and a kernel with BTF; RESPTRACE_REQUIRE_BPF=1 "
                 << "turns this skip into a failure)";
  }

  // Loads again with `config`: the default configuration loaded, so a failure is one.
  void Reload(const BpfProgramConfig& config) {
    const std::string error = runner_.Load(config, kRedisPort);
    ASSERT_TRUE(error.empty()) << error;
  }

  uint32_t Run(BpfHook hook, const std::string& frame) {
    std::string error;
    const uint32_t result = runner_.Run(hook, frame, error);
    EXPECT_EQ(error, "");
    return result;
  }
  uint32_t RunIngress(const std::string& frame) { return Run(BpfHook::kTcIngress, frame); }
  uint32_t RunEgress(const std::string& frame) { return Run(BpfHook::kTcEgress, frame); }
  uint32_t RunXdp(const std::string& frame) { return Run(BpfHook::kXdp, frame); }

  std::vector<BpfRecord> Drain(uint64_t before_ns = UINT64_MAX) { return runner_.Drain(before_ns); }

  // Expects exactly the `nonzero` counters to hold their values, all others zero.
  void ExpectCounters(std::vector<std::pair<resptrace_bpf_counter, uint64_t>> nonzero) {
    BpfCounters expected{};
    for (const auto& [index, value] : nonzero) expected[index] = value;
    const BpfCounters actual = runner_.ReadCounters();
    for (size_t i = 0; i < expected.size(); ++i) {
      EXPECT_EQ(actual[i], expected[i]) << "counter " << i;
    }
  }

  BpfProgramRunner runner_;
};

// Every field but timestamp and cpu, which are checked where they are known.
struct Expected {
  uint8_t direction = RESPTRACE_BPF_DIR_INGRESS;
  uint8_t ip_version = 4;
  std::string src = "10.0.0.1";
  std::string dst = "10.0.0.2";
  uint16_t sport = 40000;
  uint16_t dport = 6379;
  uint32_t seq = 1000;
  uint32_t ack = 0;
  uint8_t tcp_flags = tcp_flags::kAck;
  uint32_t payload_len = 0;
  uint32_t captured_len = 0;
  uint32_t chunk_offset = 0;
  uint32_t chunk_len = 0;
};

void ExpectHeader(const resptrace_bpf_event& h, const Expected& e) {
  EXPECT_EQ(h.ifindex, kLoopbackIfindex);
  EXPECT_LT(h.cpu, static_cast<uint32_t>(BpfProgramRunner::PossibleCpus()));
  EXPECT_EQ(h.direction, e.direction);
  EXPECT_EQ(h.ip_version, e.ip_version);
  EXPECT_EQ(h.tcp_flags, e.tcp_flags);
  EXPECT_EQ(h.reserved, 0);
  EXPECT_EQ(h.sport, e.sport);
  EXPECT_EQ(h.dport, e.dport);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h.saddr), 16), AddressField(e.src));
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(h.daddr), 16), AddressField(e.dst));
  EXPECT_EQ(h.seq, e.seq);
  EXPECT_EQ(h.ack, e.ack);
  EXPECT_EQ(h.payload_len, e.payload_len);
  EXPECT_EQ(h.captured_len, e.captured_len);
  EXPECT_EQ(h.chunk_offset, e.chunk_offset);
  EXPECT_EQ(h.chunk_len, e.chunk_len);
}

TEST_F(BpfProgramTest, Ipv4SegmentToKeptPortGivesOneExactRecord) {
  const std::string payload = "*1\r\n$4\r\nPING\r\n";
  TcpHeader tcp;
  tcp.seq = 0x01020304;
  tcp.ack = 0xA0B0C0D0;
  tcp.flags = kPshAck;
  const int64_t before = MonotonicNowNs();
  EXPECT_EQ(RunIngress(Ipv4Frame(tcp, payload)), kTcActUnspec);
  const int64_t after = MonotonicNowNs();

  const std::vector<BpfRecord> records = Drain();
  ASSERT_EQ(records.size(), 1u);
  const BpfRecord& r = records[0];
  ExpectHeader(r.header, {.seq = 0x01020304, .ack = 0xA0B0C0D0, .tcp_flags = kPshAck,
                          .payload_len = 14, .captured_len = 14, .chunk_len = 14});
  EXPECT_EQ(r.payload, payload);
  EXPECT_EQ(r.record_size, 128u);  // the smallest size class
  EXPECT_GE(static_cast<int64_t>(r.header.timestamp_ns), before);  // CLOCK_MONOTONIC
  EXPECT_LE(static_cast<int64_t>(r.header.timestamp_ns), after);
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 1}, {RESPTRACE_BPF_CTR_KEPT, 1},
                  {RESPTRACE_BPF_CTR_EMITTED, 1}});
}

TEST_F(BpfProgramTest, EgressProgramKeepsTheSourcePortAndSaysEgress) {
  TcpHeader tcp;
  tcp.src_port = 6379;
  tcp.dst_port = 40000;
  tcp.flags = kPshAck;
  EXPECT_EQ(RunEgress(Ipv4Frame(tcp, "+PONG\r\n")), kTcActUnspec);

  const std::vector<BpfRecord> records = Drain();
  ASSERT_EQ(records.size(), 1u);
  ExpectHeader(records[0].header,
               {.direction = RESPTRACE_BPF_DIR_EGRESS, .sport = 6379, .dport = 40000,
                .tcp_flags = kPshAck, .payload_len = 7, .captured_len = 7, .chunk_len = 7});
  EXPECT_EQ(records[0].payload, "+PONG\r\n");
}

TEST_F(BpfProgramTest, OtherPortsGiveNoRecord) {
  TcpHeader tcp;
  tcp.src_port = 40000;
  tcp.dst_port = 8080;
  EXPECT_EQ(RunIngress(Ipv4Frame(tcp, "GET / HTTP/1.1\r\n")), kTcActUnspec);
  EXPECT_EQ(RunXdp(Ipv4Frame(tcp, "GET / HTTP/1.1\r\n")), kXdpPass);

  EXPECT_TRUE(Drain().empty());
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 2}});
}

TEST_F(BpfProgramTest, SynWithoutPayloadGivesAnEmptyRecordAndIgnoresEthernetPadding) {
  TcpHeader tcp;
  tcp.flags = tcp_flags::kSyn;
  tcp.seq = 77;
  // 14 + 20 + 20 = 54 bytes, padded to 60 as on a real NIC: the padding is no payload.
  const std::string frame =
      EthernetFrame(kEtherIpv4, TcpIpPacket("10.0.0.1", "10.0.0.2", tcp, ""), {}, 60);
  ASSERT_EQ(frame.size(), 60u);
  EXPECT_EQ(RunIngress(frame), kTcActUnspec);

  const std::vector<BpfRecord> records = Drain();
  ASSERT_EQ(records.size(), 1u);
  ExpectHeader(records[0].header, {.seq = 77, .tcp_flags = tcp_flags::kSyn});
  EXPECT_EQ(records[0].payload, "");
  EXPECT_EQ(records[0].record_size, 128u);
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 1}, {RESPTRACE_BPF_CTR_KEPT, 1},
                  {RESPTRACE_BPF_CTR_EMITTED, 1}});
}

TEST_F(BpfProgramTest, Ipv6SegmentCarriesSixteenByteAddresses) {
  TcpHeader tcp;
  tcp.flags = kPshAck;
  const std::string payload = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
  const std::string frame =
      EthernetFrame(kEtherIpv6, TcpIpPacket("fd00::1", "fd00:0:0:0:0:0:0:abcd", tcp, payload));
  EXPECT_EQ(RunIngress(frame), kTcActUnspec);
  EXPECT_EQ(RunXdp(frame), kXdpPass);

  const std::vector<BpfRecord> records = Drain();
  ASSERT_EQ(records.size(), 2u);
  for (const BpfRecord& r : records) {
    ExpectHeader(r.header, {.ip_version = 6, .src = "fd00::1", .dst = "fd00::abcd",
                            .tcp_flags = kPshAck, .payload_len = 20, .captured_len = 20,
                            .chunk_len = 20});
    EXPECT_EQ(r.payload, payload);
  }
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 2}, {RESPTRACE_BPF_CTR_KEPT, 2},
                  {RESPTRACE_BPF_CTR_EMITTED, 2}});
}

TEST_F(BpfProgramTest, Ipv6ExtensionHeadersAreSkippedAndFragmentsCounted) {
  TcpHeader tcp;
  tcp.flags = kPshAck;
  const std::string l4 = TcpSegmentBytes(tcp, "+OK\r\n");
  Ipv6Header with_options;
  with_options.extensions = {Ipv6Extension::Options(0), Ipv6Extension::Options(60, 14)};
  Ipv6Header fragmented;
  fragmented.extensions = {Ipv6Extension::Fragment(0, true)};
  Ipv6Header too_many;
  too_many.extensions = {Ipv6Extension::Options(0), Ipv6Extension::Options(60),
                         Ipv6Extension::Options(60), Ipv6Extension::Options(60),
                         Ipv6Extension::Options(60)};
  RunIngress(EthernetFrame(kEtherIpv6, Ipv6Packet(with_options, l4)));
  RunIngress(EthernetFrame(kEtherIpv6, Ipv6Packet(fragmented, l4)));
  RunIngress(EthernetFrame(kEtherIpv6, Ipv6Packet(too_many, l4)));

  const std::vector<BpfRecord> records = Drain();
  ASSERT_EQ(records.size(), 1u);
  ExpectHeader(records[0].header, {.ip_version = 6, .src = "fd00::1", .dst = "fd00::2",
                                   .tcp_flags = kPshAck, .payload_len = 5, .captured_len = 5,
                                   .chunk_len = 5});
  EXPECT_EQ(records[0].payload, "+OK\r\n");
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 3}, {RESPTRACE_BPF_CTR_FRAGMENTS, 1},
                  {RESPTRACE_BPF_CTR_NOT_PARSED, 1}, {RESPTRACE_BPF_CTR_KEPT, 1},
                  {RESPTRACE_BPF_CTR_EMITTED, 1}});
}

TEST_F(BpfProgramTest, UpToTwoVlanTagsAreParsed) {
  TcpHeader tcp;
  tcp.flags = kPshAck;
  const std::string ip = TcpIpPacket("10.0.0.1", "10.0.0.2", tcp, "+OK\r\n");
  RunIngress(EthernetFrame(kEtherIpv4, ip, {VlanTag{kEtherVlan, 100}}));
  RunXdp(EthernetFrame(kEtherIpv4, ip, {VlanTag{kEtherQinQ, 7}, VlanTag{kEtherVlan, 100}}));
  RunIngress(EthernetFrame(kEtherIpv4, ip,
                           {VlanTag{kEtherQinQLegacy, 1}, VlanTag{kEtherQinQ, 7},
                            VlanTag{kEtherVlan, 100}}));

  const std::vector<BpfRecord> records = Drain();
  ASSERT_EQ(records.size(), 2u);
  for (const BpfRecord& r : records) {
    ExpectHeader(r.header,
                 {.tcp_flags = kPshAck, .payload_len = 5, .captured_len = 5, .chunk_len = 5});
    EXPECT_EQ(r.payload, "+OK\r\n");
  }
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 3}, {RESPTRACE_BPF_CTR_NOT_PARSED, 1},
                  {RESPTRACE_BPF_CTR_KEPT, 2}, {RESPTRACE_BPF_CTR_EMITTED, 2}});
}

TEST_F(BpfProgramTest, TcpOptionsAreNotPayload) {
  TcpHeader tcp;
  tcp.flags = kPshAck;
  // MSS, SACK permitted, timestamps: 12 option bytes after padding, data offset 8.
  tcp.options = std::string("\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x01", 12);
  EXPECT_EQ(RunIngress(Ipv4Frame(tcp, "+OK\r\n")), kTcActUnspec);

  const std::vector<BpfRecord> records = Drain();
  ASSERT_EQ(records.size(), 1u);
  ExpectHeader(records[0].header,
               {.tcp_flags = kPshAck, .payload_len = 5, .captured_len = 5, .chunk_len = 5});
  EXPECT_EQ(records[0].payload, "+OK\r\n");
}

TEST_F(BpfProgramTest, Ipv4FragmentsAreSkippedAndCounted) {
  TcpHeader tcp;
  const std::string l4 = TcpSegmentBytes(tcp, std::string(64, 'x'));
  Ipv4Header first;
  first.dont_fragment = false;
  first.more_fragments = true;
  Ipv4Header later;
  later.dont_fragment = false;
  later.fragment_offset = 8;
  EXPECT_EQ(RunIngress(EthernetFrame(kEtherIpv4, Ipv4Packet(first, l4))), kTcActUnspec);
  EXPECT_EQ(RunXdp(EthernetFrame(kEtherIpv4, Ipv4Packet(later, l4))), kXdpPass);

  EXPECT_TRUE(Drain().empty());
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 2}, {RESPTRACE_BPF_CTR_FRAGMENTS, 2}});
}

TEST_F(BpfProgramTest, OtherProtocolsAndMalformedHeadersAreCountedApart) {
  TcpHeader tcp;
  Ipv4Header udp;
  udp.protocol = kProtoUdp;
  Ipv4Header short_ihl;
  short_ihl.ihl_override = 4;
  Ipv4Header long_total;
  long_total.total_length_override = 400;
  TcpHeader short_offset;
  short_offset.data_offset_override = 4;
  TcpHeader offset_past_end;
  offset_past_end.data_offset_override = 15;

  RunIngress(EthernetFrame(kEtherArp, std::string(28, '\0')));
  RunIngress(EthernetFrame(kEtherIpv4, Ipv4Packet(udp, std::string(20, 'u'))));
  RunIngress(EthernetFrame(kEtherIpv4, Ipv4Packet(short_ihl, TcpSegmentBytes(tcp, "x"))));
  RunIngress(EthernetFrame(kEtherIpv4, Ipv4Packet(long_total, TcpSegmentBytes(tcp, "x"))));
  RunIngress(Ipv4Frame(short_offset, "x"));
  RunXdp(Ipv4Frame(offset_past_end, "x"));
  RunXdp(EthernetFrame(kEtherIpv4, "\x45\x00"));  // IPv4 header cut short

  EXPECT_TRUE(Drain().empty());
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 7}, {RESPTRACE_BPF_CTR_NOT_TCP, 2},
                  {RESPTRACE_BPF_CTR_NOT_PARSED, 5}});
}

TEST_F(BpfProgramTest, RecordsAreReservedInTheSmallestSizeClassThatHoldsTheChunk) {
  TcpHeader tcp;
  tcp.flags = kPshAck;
  const std::vector<std::pair<size_t, size_t>> payload_to_record = {
      {48, 128}, {49, 256}, {176, 256}, {177, 1024}, {944, 1024}, {945, 4096}, {3000, 4096}};
  for (const auto& [size, record] : payload_to_record) {
    const std::string payload = Payload(size);
    RunIngress(Ipv4Frame(tcp, payload));
    const std::vector<BpfRecord> records = Drain();
    ASSERT_EQ(records.size(), 1u) << size;
    EXPECT_EQ(records[0].record_size, record) << size;
    EXPECT_EQ(records[0].header.chunk_len, size);
    EXPECT_EQ(records[0].payload, payload);
  }
}

TEST_F(BpfProgramTest, LargeSegmentComesInOrderedChunksCoveringEveryByte) {
  TcpHeader tcp;
  tcp.flags = kPshAck;
  tcp.seq = 5000;
  const std::string payload = Payload(40000);
  EXPECT_EQ(RunXdp(Ipv4Frame(tcp, payload)), kXdpPass);

  const std::vector<BpfRecord> records = Drain();
  ASSERT_EQ(records.size(), 3u);
  const uint32_t offsets[] = {0, 16384, 32768};
  const uint32_t lengths[] = {16384, 16384, 7232};
  std::string joined;
  for (size_t i = 0; i < records.size(); ++i) {
    ExpectHeader(records[i].header, {.seq = 5000, .tcp_flags = kPshAck, .payload_len = 40000,
                                     .captured_len = 40000, .chunk_offset = offsets[i],
                                     .chunk_len = lengths[i]});
    EXPECT_EQ(records[i].record_size, kHeaderSize + RESPTRACE_BPF_CHUNK_MAX);
    EXPECT_EQ(records[i].header.timestamp_ns, records[0].header.timestamp_ns);
    EXPECT_EQ(records[i].header.cpu, records[0].header.cpu);
    joined += records[i].payload;
  }
  EXPECT_EQ(joined, payload);
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 1}, {RESPTRACE_BPF_CTR_KEPT, 1},
                  {RESPTRACE_BPF_CTR_EMITTED, 3}});
}

TEST_F(BpfProgramTest, BytesPastTheSnaplenAreCountedNotSent) {
  ASSERT_NO_FATAL_FAILURE(Reload(BpfProgramConfig{.snaplen = 20000}));
  TcpHeader tcp;
  tcp.flags = kPshAck;
  const std::string payload = Payload(40000);
  RunXdp(Ipv4Frame(tcp, payload));
  RunIngress(Ipv4Frame(tcp, "+OK\r\n"));  // under the snaplen: whole

  const std::vector<BpfRecord> records = Drain();
  ASSERT_EQ(records.size(), 3u);
  ExpectHeader(records[0].header, {.tcp_flags = kPshAck, .payload_len = 40000,
                                   .captured_len = 20000, .chunk_len = 16384});
  ExpectHeader(records[1].header, {.tcp_flags = kPshAck, .payload_len = 40000,
                                   .captured_len = 20000, .chunk_offset = 16384,
                                   .chunk_len = 3616});
  EXPECT_EQ(records[1].record_size, 4096u);
  EXPECT_EQ(records[0].payload + records[1].payload, payload.substr(0, 20000));
  ExpectHeader(records[2].header,
               {.tcp_flags = kPshAck, .payload_len = 5, .captured_len = 5, .chunk_len = 5});
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 2}, {RESPTRACE_BPF_CTR_KEPT, 2},
                  {RESPTRACE_BPF_CTR_EMITTED, 3}, {RESPTRACE_BPF_CTR_TRUNCATED, 1},
                  {RESPTRACE_BPF_CTR_TRUNCATED_BYTES, 20000}});
}

TEST_F(BpfProgramTest, SnaplenZeroSendsHeadersOnly) {
  ASSERT_NO_FATAL_FAILURE(Reload(BpfProgramConfig{.snaplen = 0}));
  TcpHeader tcp;
  tcp.flags = kPshAck;
  RunIngress(Ipv4Frame(tcp, "+OK\r\n"));

  const std::vector<BpfRecord> records = Drain();
  ASSERT_EQ(records.size(), 1u);
  ExpectHeader(records[0].header, {.tcp_flags = kPshAck, .payload_len = 5});
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 1}, {RESPTRACE_BPF_CTR_KEPT, 1},
                  {RESPTRACE_BPF_CTR_EMITTED, 1}, {RESPTRACE_BPF_CTR_TRUNCATED, 1},
                  {RESPTRACE_BPF_CTR_TRUNCATED_BYTES, 5}});
}

TEST_F(BpfProgramTest, FullRingBufferCountsLostRecordsAndBytes) {
  // One page: thirty 128-byte records (+8 bytes of ring-buffer header each).
  ASSERT_NO_FATAL_FAILURE(Reload(BpfProgramConfig{.ring_bytes = 4096}));
  TcpHeader tcp;
  tcp.flags = kPshAck;
  for (int i = 0; i < 31; ++i) RunIngress(Ipv4Frame(tcp, "+OK\r\n"));
  RunXdp(Ipv4Frame(tcp, Payload(40000)));  // its first 16 KiB chunk cannot fit

  EXPECT_EQ(Drain().size(), 30u);
  ExpectCounters({{RESPTRACE_BPF_CTR_SEEN, 32}, {RESPTRACE_BPF_CTR_KEPT, 32},
                  {RESPTRACE_BPF_CTR_EMITTED, 30}, {RESPTRACE_BPF_CTR_RINGBUF_FULL, 2},
                  {RESPTRACE_BPF_CTR_LOST_BYTES, 5 + 40000}});
}

// Below the wake-up threshold records wait for the consumer's timer: an epoll wait sees
// nothing. At the threshold the submit wakes the consumer.
TEST_F(BpfProgramTest, SubmitsWakeTheConsumerOnlyPastTheThreshold) {
  TcpHeader tcp;
  tcp.flags = kPshAck;
  RunIngress(Ipv4Frame(tcp, "+OK\r\n"));
  EXPECT_TRUE(runner_.Poll(0).empty());
  EXPECT_EQ(Drain().size(), 1u);

  // Crossed by the second 128-byte record (+8 bytes of ring-buffer header each).
  ASSERT_NO_FATAL_FAILURE(Reload(BpfProgramConfig{.wakeup_bytes = 256}));
  RunIngress(Ipv4Frame(tcp, "+OK\r\n"));
  EXPECT_TRUE(runner_.Poll(0).empty());
  RunIngress(Ipv4Frame(tcp, "+OK\r\n"));
  EXPECT_EQ(runner_.Poll(10'000).size(), 2u);
}

// Past the threshold a record wakes the consumer only when it carries the fill across a
// multiple of it: each wake-up is an interrupt, so not one per record while the consumer
// is on its way.
TEST_F(BpfProgramTest, OnlyTheRecordThatCrossesAMultipleOfTheThresholdWakes) {
  // 136 bytes a record (128 + 8 of ring-buffer header): fills 136, 272, 408, 544, 680.
  ASSERT_NO_FATAL_FAILURE(Reload(BpfProgramConfig{.wakeup_bytes = 256}));
  TcpHeader tcp;
  tcp.flags = kPshAck;
  const bool wakes[] = {false, true, false, true, false};
  for (int i = 0; i < 5; ++i) {
    RunIngress(Ipv4Frame(tcp, "+OK\r\n"));
    EXPECT_EQ(runner_.WokeUp(wakes[i] ? 10'000 : 0), wakes[i]) << "record " << i + 1;
  }
  EXPECT_EQ(Drain().size(), 5u);
}

// Each CPU writes to its own ring; a drain merges them by timestamp, so records come out in
// the order the programs ran whichever CPU ran them.
TEST_F(BpfProgramTest, RecordsFromEveryCpuComeOutInTheOrderTheyRan) {
  if (BpfProgramRunner::PossibleCpus() < 2) GTEST_SKIP() << "needs two CPUs";
  TcpHeader tcp;
  tcp.flags = kPshAck;
  const int cpus[] = {0, 1, 1, 0, 1};
  for (uint32_t i = 0; i < 5; ++i) {
    ASSERT_TRUE(BpfProgramRunner::PinToCpu(cpus[i]));
    tcp.seq = 1000 + i;
    RunIngress(Ipv4Frame(tcp, "+OK\r\n"));
  }
  const std::vector<BpfRecord> records = Drain();
  ASSERT_EQ(records.size(), 5u);
  for (uint32_t i = 0; i < 5; ++i) {
    EXPECT_EQ(records[i].header.seq, 1000 + i);
    EXPECT_EQ(records[i].header.cpu, static_cast<uint32_t>(cpus[i]));
  }
}

// A drain takes only what was stamped before its bound: what came later waits, in place,
// for the next drain, so a record never overtakes one stamped before it.
TEST_F(BpfProgramTest, DrainLeavesRecordsStampedAfterItsBound) {
  if (BpfProgramRunner::PossibleCpus() < 2) GTEST_SKIP() << "needs two CPUs";
  TcpHeader tcp;
  tcp.flags = kPshAck;
  ASSERT_TRUE(BpfProgramRunner::PinToCpu(0));
  tcp.seq = 1;
  RunIngress(Ipv4Frame(tcp, "+OK\r\n"));
  const int64_t bound = MonotonicNowNs();
  ASSERT_TRUE(BpfProgramRunner::PinToCpu(1));
  tcp.seq = 2;
  RunIngress(Ipv4Frame(tcp, "+OK\r\n"));
  ASSERT_TRUE(BpfProgramRunner::PinToCpu(0));
  tcp.seq = 3;
  RunIngress(Ipv4Frame(tcp, "+OK\r\n"));

  const std::vector<BpfRecord> first = Drain(static_cast<uint64_t>(bound));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].header.seq, 1u);
  const std::vector<BpfRecord> rest = Drain();
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].header.seq, 2u);
  EXPECT_EQ(rest[1].header.seq, 3u);
  EXPECT_TRUE(Drain().empty());
}

}  // namespace
}  // namespace resptrace::test

#include "resptrace/capture_reader.h"

#include <pcap/pcap.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pcap_builder.h"

namespace resptrace {
namespace {

using ::resptrace::test::EthernetFrame;
using ::resptrace::test::LoopbackFrame;
using ::resptrace::test::MakeEndpoint;
using ::resptrace::test::PcapFileWriter;
using ::resptrace::test::Sll2Frame;
using ::resptrace::test::SllFrame;
using ::resptrace::test::TcpHeader;
using ::resptrace::test::TcpIpPacket;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// A delivered segment, copied out of the callback (its payload is only valid there).
struct Seen {
  int64_t ts_ns;
  FlowKey flow;
  uint32_t seq, ack;
  uint8_t flags;
  std::string payload;
  uint32_t payload_len, wire_len;
  uint32_t ifindex;
};

struct ReadResult {
  absl::Status status;
  std::vector<Seen> segments;
  CaptureCounters counters;
};

ReadResult ReadCapture(CaptureReader& reader) {
  ReadResult r;
  r.status = reader.ReadAll([&](const Segment& s) {
    r.segments.push_back(Seen{s.ts_ns, s.flow, s.seq, s.ack, s.flags, std::string(s.payload),
                              s.payload_len, s.wire_len, s.ifindex});
  });
  r.counters = reader.counters();
  return r;
}

std::string TempPath(const std::string& name) {
  return ::testing::TempDir() + "/capture_reader_test_" + std::to_string(getpid()) + "_" + name;
}

// Writes `bytes` to a file named `name`, reads it back and removes it; a file that cannot
// be opened gives the open error as the status and no segments.
ReadResult ReadBytes(const std::string& name, std::string_view bytes) {
  const std::string path = TempPath(name);
  test::WriteBytesToFile(path, bytes);
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open(path);
  ReadResult r = reader.ok() ? ReadCapture(**reader) : ReadResult{reader.status(), {}, {}};
  std::remove(path.c_str());
  return r;
}

std::string DataPath(const std::string& relative) {
  return std::string(RESPTRACE_TEST_DATA) + "/" + relative;
}

// What tshark reports for each public capture ("tshark -o ip.defragment:FALSE"): frames,
// TCP segments, segments with payload, and the sum of tcp.len.
struct PublicCapture {
  const char* path;
  int dlt;
  uint64_t packets;
  uint64_t tcp_segments;
  uint64_t with_payload;
  uint64_t payload_bytes;
};

const PublicCapture kPublicCaptures[] = {
    {"deepflow/redis-debug.pcap", DLT_EN10MB, 10, 10, 2, 2750},
    {"deepflow/redis-error.pcap", DLT_EN10MB, 3, 3, 2, 57},
    {"deepflow/redis.pcap", DLT_EN10MB, 50, 50, 28, 497600},
    {"malcolm/Redis.pcap", DLT_EN10MB, 2122, 2122, 1095, 772226},
    {"packetbeat/redis_one_transaction.pcap", DLT_EN10MB, 2, 2, 2, 45},
    {"packetbeat/redis_session.pcap", DLT_EN10MB, 22, 22, 22, 475},
    {"pcredz/redis.pcap", DLT_IPV4, 1, 1, 1, 41},
    {"spicy-redis/almost-resp.pcap", DLT_NULL, 12, 12, 2, 69},
    {"spicy-redis/auth.pcap", DLT_NULL, 52, 52, 24, 205557},
    {"spicy-redis/bulk-loading.pcap", DLT_NULL, 32, 32, 12, 43850},
    {"spicy-redis/client-skip-while-off.pcap", DLT_NULL, 12, 12, 2, 104},
    {"spicy-redis/django-cache.pcap", DLT_NULL, 1270, 1270, 632, 81396},
    {"spicy-redis/django-cloud.pcap", DLT_EN10MB, 474, 474, 316, 19034},
    {"spicy-redis/excessive-pipelining.pcap", DLT_NULL, 12, 12, 2, 156},
    {"spicy-redis/loop-redis.pcap", DLT_NULL, 16, 16, 6, 104},
    {"spicy-redis/pipeline-quotes.pcap", DLT_NULL, 12, 12, 2, 395},
    {"spicy-redis/pipeline-with-commands.pcap", DLT_NULL, 12, 12, 2, 56},
    {"spicy-redis/pipelining-example.pcap", DLT_NULL, 12, 12, 2, 39},
    {"spicy-redis/pubsub.pcap", DLT_NULL, 18, 18, 5, 176},
    {"spicy-redis/reply-off-on-2conn.pcap", DLT_NULL, 20, 20, 4, 74},
    {"spicy-redis/reply-off-on.pcap", DLT_NULL, 12, 12, 2, 110},
    {"spicy-redis/set.pcap", DLT_NULL, 12, 12, 6, 112},
    {"spicy-redis/start-with-server.pcap", DLT_NULL, 46, 46, 20, 205247},
    {"spicy-redis/stream.pcap", DLT_NULL, 16, 16, 8, 785},
    {"spicy-redis/tls.pcap", DLT_NULL, 82, 82, 48, 214962},
    {"tcpdump/babel_update_oobr.pcap", DLT_EN10MB, 107, 2, 2, 44},
    {"tcpdump/resp_1_benchmark.pcap", DLT_LINUX_SLL, 150, 150, 30, 13994},
    {"tcpdump/resp_2_inline.pcap", DLT_LINUX_SLL, 14, 14, 4, 1455},
    {"tcpdump/resp_3_malicious.pcap", DLT_LINUX_SLL, 163, 163, 29, 736},
    {"tcpdump/resp_4_infiniteloop.pcapng", DLT_EN10MB, 1, 1, 1, 854},
    {"zeek/almost-resp.pcap", DLT_NULL, 12, 12, 2, 69},
    {"zeek/array-element-object-exhaustion.pcap", DLT_EN10MB, 9, 9, 4, 3013},
    {"zeek/attr.pcap", DLT_NULL, 28, 28, 4, 146},
    {"zeek/auth.pcap", DLT_NULL, 12, 12, 6, 268},
    {"zeek/bulk-loading.pcap", DLT_NULL, 32, 32, 12, 43850},
    {"zeek/client-skip-while-off.pcap", DLT_NULL, 12, 12, 2, 104},
    {"zeek/django-cloud.pcapng", DLT_EN10MB, 474, 474, 316, 19034},
    {"zeek/excessive-pipelining.pcap", DLT_NULL, 12, 12, 2, 156},
    {"zeek/large-requests-responses.pcap", DLT_NULL, 58, 58, 25, 240725},
    {"zeek/oss-fuzz-473580107.pcap", DLT_EN10MB, 222, 222, 215, 252429},
    {"zeek/pipeline-quotes.pcap", DLT_NULL, 12, 12, 2, 395},
    {"zeek/pipeline-with-commands.pcap", DLT_NULL, 12, 12, 2, 56},
    {"zeek/pipelining-example.pcap", DLT_NULL, 12, 12, 2, 39},
    {"zeek/pubsub-resp3.pcap", DLT_NULL, 108, 108, 48, 410125},
    {"zeek/pubsub.pcap", DLT_NULL, 60, 60, 16, 458},
    {"zeek/redis-50-pings.pcap", DLT_EN10MB, 116, 116, 108, 1218},
    {"zeek/reply-off-on-2conn.pcap", DLT_NULL, 20, 20, 4, 74},
    {"zeek/reply-off-on.pcap", DLT_NULL, 12, 12, 2, 110},
    {"zeek/set.pcap", DLT_NULL, 12, 12, 6, 112},
    {"zeek/start-with-server.pcapng", DLT_NULL, 6, 6, 3, 45},
    {"zeek/stream.pcap", DLT_NULL, 16, 16, 8, 785},
};

void PrintTo(const PublicCapture& c, std::ostream* os) { *os << c.path; }

class PublicCaptureTest : public ::testing::TestWithParam<PublicCapture> {};

TEST_P(PublicCaptureTest, CountsMatchTshark) {
  const PublicCapture& c = GetParam();
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open(DataPath(c.path));
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->link_type(), c.dlt);
  ReadResult r = ReadCapture(**reader);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.counters.packets, c.packets);
  EXPECT_EQ(r.counters.tcp_segments, c.tcp_segments);
  ASSERT_EQ(r.segments.size(), c.tcp_segments);
  uint64_t with_payload = 0, payload_bytes = 0;
  int64_t previous_ts = 0;
  for (const Seen& s : r.segments) {
    with_payload += s.payload_len > 0;
    payload_bytes += s.payload_len;
    EXPECT_GE(s.ts_ns, previous_ts);  // every one of these files is in time order
    previous_ts = s.ts_ns;
  }
  EXPECT_EQ(with_payload, c.with_payload);
  EXPECT_EQ(payload_bytes, c.payload_bytes);
  if (std::string(c.path) != "tcpdump/babel_update_oobr.pcap") {
    // Only the TCP frames of the fuzz file are damaged; elsewhere nothing else is counted.
    EXPECT_EQ(r.counters.not_ip + r.counters.not_tcp + r.counters.ip_fragments +
                  r.counters.truncated_headers + r.counters.malformed + r.counters.snaplen_cut,
              0u);
  }
}

INSTANTIATE_TEST_SUITE_P(AllFiles, PublicCaptureTest, ::testing::ValuesIn(kPublicCaptures),
                         [](const auto& info) {
                           std::string name;
                           for (const char* p = info.param.path; *p != '\0'; ++p) {
                             name += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '_';
                           }
                           return name;
                         });

TEST(CaptureReaderTest, LinuxCookedBenchmarkFirstSegments) {
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader =
      CaptureReader::Open(DataPath("tcpdump/resp_1_benchmark.pcap"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  ReadResult r = ReadCapture(**reader);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.segments.size(), 150u);
  const Seen& syn = r.segments[0];
  EXPECT_EQ(syn.ts_ns, 1424744580757048000);
  EXPECT_EQ(syn.flow.src, MakeEndpoint("127.0.0.1", 35901));
  EXPECT_EQ(syn.flow.dst, MakeEndpoint("127.0.0.1", 6379));
  EXPECT_EQ(syn.seq, 1159918511u);
  EXPECT_EQ(syn.ack, 0u);
  EXPECT_EQ(syn.flags, tcp_flags::kSyn);
  EXPECT_EQ(syn.payload_len, 0u);
  EXPECT_EQ(syn.wire_len, 76u);
  const Seen& syn_ack = r.segments[1];
  EXPECT_EQ(syn_ack.ts_ns, 1424744580757078000);
  EXPECT_EQ(syn_ack.flow, syn.flow.Reversed());
  EXPECT_EQ(syn_ack.seq, 1309831771u);
  EXPECT_EQ(syn_ack.ack, 1159918512u);
  EXPECT_EQ(syn_ack.flags, tcp_flags::kSyn | tcp_flags::kAck);
}

TEST(CaptureReaderTest, RawIpPacketFromPcredz) {
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader =
      CaptureReader::Open(DataPath("pcredz/redis.pcap"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  ReadResult r = ReadCapture(**reader);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.segments.size(), 1u);
  const Seen& s = r.segments[0];
  EXPECT_EQ(s.ts_ns, 1766840110414904000);
  EXPECT_EQ(s.flow.src, MakeEndpoint("192.168.1.100", 54325));
  EXPECT_EQ(s.flow.dst, MakeEndpoint("192.168.1.1", 6379));
  EXPECT_EQ(s.flags, tcp_flags::kPsh | tcp_flags::kAck);
  // The file holds literal backslash sequences, not CRLF.
  EXPECT_EQ(s.payload, R"(*2\r\n$4\r\nAUTH\r\n$10\r\nredispass1\r\n)");
  EXPECT_EQ(s.payload_len, 41u);
}

TEST(CaptureReaderTest, FuzzFileCountsEveryKindOfFrame) {
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader =
      CaptureReader::Open(DataPath("tcpdump/babel_update_oobr.pcap"));
  ASSERT_TRUE(reader.ok()) << reader.status();
  ReadResult r = ReadCapture(**reader);
  ASSERT_TRUE(r.status.ok()) << r.status;
  // tshark: 4 non-IP EtherTypes, 99 unfragmented UDP, 2 fragments, 2 TCP cut at 69 of 76
  // bytes.
  EXPECT_EQ(r.counters.packets, 107u);
  EXPECT_EQ(r.counters.not_ip, 4u);
  EXPECT_EQ(r.counters.not_tcp, 99u);
  EXPECT_EQ(r.counters.ip_fragments, 2u);
  EXPECT_EQ(r.counters.truncated_headers, 0u);
  EXPECT_EQ(r.counters.malformed, 0u);
  EXPECT_EQ(r.counters.tcp_segments, 2u);
  EXPECT_EQ(r.counters.snaplen_cut, 2u);
  ASSERT_EQ(r.segments.size(), 2u);
  for (const Seen& s : r.segments) {
    EXPECT_EQ(s.flow.src.port, 6379);
    EXPECT_EQ(s.payload_len, 22u);
    EXPECT_EQ(s.payload.size(), 69u - 14 - 20 - 20);
    EXPECT_EQ(s.wire_len, 76u);
  }
}

// Three segments of one conversation, framed for `dlt` by `wrap`.
struct CraftedCase {
  const char* name;
  int dlt;
  std::string (*wrap)(const std::string& ip);
  const char* client;
  const char* server;
};

const CraftedCase kCraftedCases[] = {
    {"Ethernet", DLT_EN10MB,
     [](const std::string& ip) {
       return EthernetFrame(test::EtherTypeOf(ip), ip, {test::VlanTag{}}, 60);
     },
     "10.0.0.1", "10.0.0.2"},
    {"Sll", DLT_LINUX_SLL,
     [](const std::string& ip) { return SllFrame(test::EtherTypeOf(ip), ip); }, "fd00::1",
     "fd00::2"},
    {"Sll2", DLT_LINUX_SLL2,
     [](const std::string& ip) { return Sll2Frame(test::EtherTypeOf(ip), ip); }, "10.9.8.7",
     "10.9.8.6"},
    {"Null", DLT_NULL, [](const std::string& ip) { return LoopbackFrame(30, ip); }, "::1", "::2"},
    {"Loop", DLT_LOOP, [](const std::string& ip) { return LoopbackFrame(2, ip, true); },
     "127.0.0.1", "127.0.0.2"},
    {"Raw", DLT_RAW, [](const std::string& ip) { return ip; }, "192.0.2.1", "192.0.2.2"},
    {"Ipv4", DLT_IPV4, [](const std::string& ip) { return ip; }, "192.0.2.1", "192.0.2.2"},
    {"Ipv6", DLT_IPV6, [](const std::string& ip) { return ip; }, "2001:db8::1", "2001:db8::2"},
};

constexpr int64_t kT0 = 1700000000123456789;

// Writes: SYN (client), "+OK\r\n" reply (server), a 500-byte request cut by a 100-byte
// snaplen.
std::string WriteConversation(const CraftedCase& c, const std::string& name) {
  const std::string path = TempPath(name);
  PcapFileWriter w(path, c.dlt, 100);
  TcpHeader syn;
  syn.src_port = 50000;
  syn.seq = 7;
  syn.flags = tcp_flags::kSyn;
  w.Write(kT0, c.wrap(TcpIpPacket(c.client, c.server, syn, "")));
  TcpHeader reply;
  reply.src_port = 6379;
  reply.dst_port = 50000;
  reply.seq = 900;
  reply.ack = 8;
  reply.flags = tcp_flags::kPsh | tcp_flags::kAck;
  w.Write(kT0 + 1, c.wrap(TcpIpPacket(c.server, c.client, reply, "+OK\r\n")));
  TcpHeader request = syn;
  request.seq = 8;
  request.ack = 906;
  request.flags = tcp_flags::kAck;
  w.Write(kT0 + 2'000'000'000, c.wrap(TcpIpPacket(c.client, c.server, request,
                                                  std::string(500, 'z'))));
  return path;
}

void PrintTo(const CraftedCase& c, std::ostream* os) { *os << c.name; }

class CraftedCaptureTest : public ::testing::TestWithParam<CraftedCase> {};

TEST_P(CraftedCaptureTest, ReadsBackExactSegments) {
  const CraftedCase& c = GetParam();
  const std::string path = WriteConversation(c, std::string(c.name) + ".pcap");
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->link_type(), c.dlt);
  ReadResult r = ReadCapture(**reader);
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.segments.size(), 3u);
  const Endpoint client = MakeEndpoint(c.client, 50000);
  const Endpoint server = MakeEndpoint(c.server, 6379);

  const Seen& syn = r.segments[0];
  EXPECT_EQ(syn.ts_ns, kT0);
  EXPECT_EQ(syn.flow, (FlowKey{client, server}));
  EXPECT_EQ(syn.seq, 7u);
  EXPECT_EQ(syn.flags, tcp_flags::kSyn);
  EXPECT_EQ(syn.payload, "");
  EXPECT_EQ(syn.payload_len, 0u);

  const Seen& reply = r.segments[1];
  EXPECT_EQ(reply.ts_ns, kT0 + 1);
  EXPECT_EQ(reply.flow, (FlowKey{server, client}));
  EXPECT_EQ(reply.seq, 900u);
  EXPECT_EQ(reply.ack, 8u);
  EXPECT_EQ(reply.flags, tcp_flags::kPsh | tcp_flags::kAck);
  EXPECT_EQ(reply.payload, "+OK\r\n");
  EXPECT_EQ(reply.payload_len, 5u);

  const Seen& request = r.segments[2];
  EXPECT_EQ(request.ts_ns, kT0 + 2'000'000'000);
  EXPECT_EQ(request.seq, 8u);
  EXPECT_EQ(request.ack, 906u);
  EXPECT_EQ(request.payload_len, 500u);
  const size_t headers_len =
      c.wrap(TcpIpPacket(c.client, c.server, TcpHeader{}, std::string(100, 'q'))).size() - 100;
  EXPECT_EQ(request.payload, std::string(100 - headers_len, 'z'));
  EXPECT_EQ(request.wire_len, headers_len + 500);

  EXPECT_EQ(r.counters.packets, 3u);
  EXPECT_EQ(r.counters.tcp_segments, 3u);
  EXPECT_EQ(r.counters.snaplen_cut, 1u);
  std::remove(path.c_str());
}

INSTANTIATE_TEST_SUITE_P(AllLinks, CraftedCaptureTest, ::testing::ValuesIn(kCraftedCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(CaptureReaderTest, CountsFramesThatAreNotTcpSegments) {
  const std::string path = TempPath("mixed.pcap");
  {
    PcapFileWriter w(path, DLT_EN10MB);
    const std::string tcp = TcpIpPacket("10.0.0.1", "10.0.0.2", TcpHeader{}, "x");
    w.Write(1, EthernetFrame(test::kEtherArp, std::string(28, '\0')));
    test::Ipv4Header udp;
    udp.protocol = test::kProtoUdp;
    w.Write(2, EthernetFrame(test::kEtherIpv4, test::Ipv4Packet(udp, std::string(8, '\0'))));
    test::Ipv4Header fragment;
    fragment.more_fragments = true;
    w.Write(3, EthernetFrame(test::kEtherIpv4,
                             test::Ipv4Packet(fragment, test::TcpSegmentBytes(TcpHeader{}, "x"))));
    w.Write(4, EthernetFrame(test::kEtherIpv4, tcp).substr(0, 30), 14 + tcp.size());
    test::Ipv4Header bad_ihl;
    bad_ihl.ihl_override = 3;
    w.Write(5, EthernetFrame(test::kEtherIpv4,
                             test::Ipv4Packet(bad_ihl, test::TcpSegmentBytes(TcpHeader{}, "x"))));
    w.Write(6, EthernetFrame(test::kEtherIpv4, tcp));
  }
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ReadResult r = ReadCapture(**reader);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.counters.packets, 6u);
  EXPECT_EQ(r.counters.not_ip, 1u);
  EXPECT_EQ(r.counters.not_tcp, 1u);
  EXPECT_EQ(r.counters.ip_fragments, 1u);
  EXPECT_EQ(r.counters.truncated_headers, 1u);
  EXPECT_EQ(r.counters.malformed, 1u);
  EXPECT_EQ(r.counters.tcp_segments, 1u);
  EXPECT_EQ(r.counters.snaplen_cut, 0u);
  ASSERT_EQ(r.segments.size(), 1u);
  EXPECT_EQ(r.segments[0].ts_ns, 6);
  EXPECT_EQ(r.segments[0].payload, "x");
  std::remove(path.c_str());
}

TEST(CaptureReaderTest, ReadsStandardInput) {
  const std::string path = DataPath("tcpdump/resp_2_inline.pcap");
  ASSERT_NE(std::freopen(path.c_str(), "rb", stdin), nullptr);
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open("-");
  ASSERT_TRUE(reader.ok()) << reader.status();
  EXPECT_EQ((*reader)->link_type(), DLT_LINUX_SLL);
  ReadResult r = ReadCapture(**reader);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.counters.packets, 14u);
  EXPECT_EQ(r.counters.tcp_segments, 14u);
  uint64_t payload_bytes = 0;
  for (const Seen& s : r.segments) payload_bytes += s.payload.size();
  EXPECT_EQ(payload_bytes, 1455u);
}

TEST(CaptureReaderTest, MissingFileSaysCheckThePath) {
  const std::string path = TempPath("does-not-exist.pcap");
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open(path);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(reader.status().message(), "cannot read capture " + path + ": " + path +
                                           ": No such file or directory (check the path)");
}

// Open() rejects `bytes` with libpcap's `pcap_message` and the format hint.
void ExpectUnreadable(const std::string& name, const std::string& bytes,
                      const std::string& pcap_message) {
  const std::string path = TempPath(name);
  test::WriteBytesToFile(path, bytes);
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open(path);
  ASSERT_FALSE(reader.ok()) << name;
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(reader.status().message(), "cannot read capture " + path + ": " + pcap_message +
                                           " (is it a pcap or pcapng file?)");
  std::remove(path.c_str());
}

TEST(CaptureReaderTest, EmptyFileIsRejected) {
  ExpectUnreadable("empty.pcap", "",
                   "truncated dump file; tried to read 4 file header bytes, only got 0");
}

TEST(CaptureReaderTest, GarbageIsRejected) {
  ExpectUnreadable("garbage.pcap", "this is not a capture file, just some text\n",
                   "unknown file format");
}

TEST(CaptureReaderTest, BadMagicIsRejected) {
  std::string bytes = test::ReadFileBytes(DataPath("tcpdump/resp_2_inline.pcap"));
  bytes[0] = '\x00';
  ExpectUnreadable("bad-magic.pcap", bytes, "unknown file format");
}

TEST(CaptureReaderTest, UnsupportedLinkTypeNamesFileAndType) {
  const std::string path = TempPath("wifi.pcap");
  { PcapFileWriter w(path, DLT_IEEE802_11); }
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open(path);
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(reader.status().message()),
              StartsWith("cannot read capture " + path +
                         ": unsupported link type IEEE802_11 (105, 802.11)"));
  EXPECT_THAT(std::string(reader.status().message()), HasSubstr("Ethernet (EN10MB"));
  std::remove(path.c_str());
}

// A capture cut short inside a record: every segment before the cut is delivered, then
// a DataLoss error names the file, the frame and libpcap's diagnosis.
TEST(CaptureReaderTest, CutInsideARecordDeliversEverythingBeforeIt) {
  const std::string whole = WriteConversation(kCraftedCases[0], "whole.pcap");
  const std::string bytes = test::ReadFileBytes(whole);
  std::remove(whole.c_str());
  // 24-byte file header, then records of 16 + 60 (SYN), 16 + 63 (reply), 16 + 100.
  ASSERT_EQ(bytes.size(), 24u + 76 + 79 + 116);
  struct Cut {
    size_t at;
    std::string diagnosis;
  };
  for (const Cut& cut :
       {Cut{24 + 76 + 79 + 50, "truncated dump file; tried to read 100 captured bytes, "
                               "only got 34"},
        Cut{24 + 76 + 79 + 9, "truncated dump file; tried to read 16 header bytes, "
                              "only got 9"}}) {
    const std::string path = TempPath("cut.pcap");
    test::WriteBytesToFile(path, std::string_view(bytes).substr(0, cut.at));
    absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open(path);
    ASSERT_TRUE(reader.ok()) << reader.status();
    ReadResult r = ReadCapture(**reader);
    EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
    EXPECT_EQ(r.status.message(), "capture " + path + " is damaged at frame 3 (after 2 good "
                                  "frames): " + cut.diagnosis +
                                      "; the frames before it were processed");
    ASSERT_EQ(r.segments.size(), 2u);
    EXPECT_EQ(r.segments[1].payload, "+OK\r\n");
    EXPECT_EQ(r.counters.packets, 2u);
    std::remove(path.c_str());
  }
  // Cut exactly between records: a clean end of file, not damage.
  ReadResult r = ReadBytes("cut-between.pcap", std::string_view(bytes).substr(0, 24 + 76 + 79));
  EXPECT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.segments.size(), 2u);
}

TEST(CaptureReaderTest, CutPcapngDeliversEverythingBeforeIt) {
  const std::string bytes = test::ReadFileBytes(DataPath("zeek/start-with-server.pcapng"));
  const std::string path = TempPath("cut.pcapng");
  test::WriteBytesToFile(path, std::string_view(bytes).substr(0, bytes.size() - 10));
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  ReadResult r = ReadCapture(**reader);
  EXPECT_EQ(r.status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(r.status.message()),
              StartsWith("capture " + path + " is damaged at frame 6 (after 5 good frames): "));
  EXPECT_EQ(r.segments.size(), 5u);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

using ::resptrace::test::PcapngBuilder;

// A TCP segment to port 6379 whose sequence number says which it is.
std::string Numbered(uint32_t seq) {
  TcpHeader t;
  t.seq = seq;
  return TcpIpPacket("10.0.0.1", "10.0.0.2", t, "x");
}

std::vector<uint32_t> Seqs(const ReadResult& r) {
  std::vector<uint32_t> seqs;
  for (const Seen& s : r.segments) seqs.push_back(s.seq);
  return seqs;
}

std::vector<uint32_t> Ifindexes(const ReadResult& r) {
  std::vector<uint32_t> ifindexes;
  for (const Seen& s : r.segments) ifindexes.push_back(s.ifindex);
  return ifindexes;
}

TEST(CaptureReaderTest, PcapngPacketsCarryTheirInterfaceNumberPlusOne) {
  PcapngBuilder b;
  b.Interface(DLT_EN10MB);
  b.Interface(DLT_EN10MB);
  b.Packet(1, 1000, EthernetFrame(test::kEtherIpv4, Numbered(1)));
  b.OtherBlock(0x40000BAD, 13);  // skipped by libpcap and by the interface count alike
  b.Packet(0, 1001, EthernetFrame(test::kEtherArp, std::string(28, '\0')));  // not TCP: no segment
  b.Packet(0, 1002, EthernetFrame(test::kEtherIpv4, Numbered(2)));
  b.SimplePacket(EthernetFrame(test::kEtherIpv4, Numbered(3)));
  // A second section numbers its interfaces from 0 again; here they follow the first's.
  b.Section();
  b.Interface(DLT_EN10MB);
  b.Packet(0, 1003, EthernetFrame(test::kEtherIpv4, Numbered(4)));
  const ReadResult r = ReadBytes("two-interfaces.pcapng", b.bytes());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(Seqs(r), (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_EQ(Ifindexes(r), (std::vector<uint32_t>{2, 1, 1, 3}));
  EXPECT_EQ(r.counters.packets, 5u);
}

TEST(CaptureReaderTest, BigEndianPcapngFromStandardInputCarriesInterfaces) {
  PcapngBuilder b(/*big_endian=*/true);
  b.Interface(DLT_EN10MB);
  b.Interface(DLT_EN10MB);
  b.Interface(DLT_EN10MB);
  for (uint32_t i = 0; i < 6; ++i) {
    b.Packet(2 - i % 3, 1000 + i, EthernetFrame(test::kEtherIpv4, Numbered(i)));
  }
  const std::string path = TempPath("big-endian.pcapng");
  test::WriteBytesToFile(path, b.bytes());
  ASSERT_NE(std::freopen(path.c_str(), "rb", stdin), nullptr);
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open("-");
  ASSERT_TRUE(reader.ok()) << reader.status();
  const ReadResult r = ReadCapture(**reader);
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(Seqs(r), (std::vector<uint32_t>{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(Ifindexes(r), (std::vector<uint32_t>{3, 2, 1, 3, 2, 1}));
  EXPECT_EQ(r.segments[5].ts_ns, 1005);
  std::remove(path.c_str());
}

TEST(CaptureReaderTest, CookedV2InterfaceWinsOverThePcapngOne) {
  PcapngBuilder b;
  b.Interface(DLT_LINUX_SLL2);  // "any": the frames say which interface
  b.Packet(0, 1, Sll2Frame(test::kEtherIpv4, Numbered(1), 9));
  b.Packet(0, 2, Sll2Frame(test::kEtherIpv4, Numbered(2), 0));
  const ReadResult r = ReadBytes("sll2.pcapng", b.bytes());
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(Ifindexes(r), (std::vector<uint32_t>{9, 1}));
}

// pcapng's 64-bit timestamps reach the year 2554, int64 nanoseconds only 2262: a time past
// them is clamped (found by capture_reader_fuzz; multiplying it out overflowed).
TEST(CaptureReaderTest, PcapngTimesPastInt64NanosecondsAreClamped) {
  PcapngBuilder b;
  b.Interface(DLT_EN10MB);
  b.Packet(0, -1, EthernetFrame(test::kEtherIpv4, Numbered(1)));  // all 64 bits set
  b.Packet(0, 1000, EthernetFrame(test::kEtherIpv4, Numbered(2)));
  const ReadResult r = ReadBytes("far-future.pcapng", b.bytes());
  ASSERT_TRUE(r.status.ok()) << r.status;
  ASSERT_EQ(r.segments.size(), 2u);
  EXPECT_EQ(r.segments[0].ts_ns, int64_t{1} << 62);
  EXPECT_EQ(r.segments[1].ts_ns, 1000);
}

TEST(CaptureReaderTest, PcapFramesHaveNoInterface) {
  const std::string path = TempPath("plain.pcap");
  {
    PcapFileWriter w(path, DLT_EN10MB);
    w.Write(1, EthernetFrame(test::kEtherIpv4, Numbered(1)));
  }
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader = CaptureReader::Open(path);
  ASSERT_TRUE(reader.ok()) << reader.status();
  const ReadResult r = ReadCapture(**reader);
  ASSERT_EQ(r.segments.size(), 1u);
  EXPECT_EQ(r.segments[0].ifindex, 0u);
  std::remove(path.c_str());
}

// The reads libpcap makes come in any size: the interfaces are the same for every split.
TEST(PcapngInterfacesTest, SameAnswersWhateverTheReadSizes) {
  PcapngBuilder b;
  b.Interface(DLT_EN10MB);
  b.Interface(DLT_EN10MB);
  b.Packet(1, 1, std::string(70'000, 'a'));  // larger than any read
  b.OtherBlock(0x40000BAD, 1);
  b.Packet(0, 2, "b");
  b.SimplePacket("c");
  b.Section();
  b.Interface(DLT_EN10MB);
  b.Packet(0, 3, "d");
  const std::string& bytes = b.bytes();
  for (size_t piece : {size_t{1}, size_t{3}, size_t{12}, size_t{4096}, bytes.size()}) {
    SCOPED_TRACE(piece);
    PcapngInterfaces interfaces;
    for (size_t at = 0; at < bytes.size(); at += piece) {
      interfaces.Observe(bytes.data() + at, std::min(piece, bytes.size() - at));
    }
    std::vector<uint32_t> got;
    while (std::optional<uint32_t> id = interfaces.TakeNext()) got.push_back(*id);
    EXPECT_EQ(got, (std::vector<uint32_t>{1, 0, 0, 2}));
  }
}

TEST(PcapngInterfacesTest, OtherFilesAndBrokenBlocksGiveNoInterface) {
  PcapngInterfaces pcap;
  const std::string pcap_header = test::ReadFileBytes(DataPath("tcpdump/resp_2_inline.pcap"));
  pcap.Observe(pcap_header.data(), pcap_header.size());
  EXPECT_EQ(pcap.TakeNext(), std::nullopt);

  PcapngBuilder b;
  b.Interface(DLT_EN10MB);
  b.Packet(0, 1, "a");
  std::string bytes = b.bytes();
  const std::string block_of_8 = std::string("\x06\0\0\0\x08\0\0\0\0\0\0\0", 12);
  bytes += block_of_8;  // a length below the smallest block: libpcap stops there too
  PcapngBuilder after;
  after.Packet(0, 2, "b");
  bytes += after.bytes();
  PcapngInterfaces broken;
  broken.Observe(bytes.data(), bytes.size());
  EXPECT_EQ(broken.TakeNext(), 0u);
  EXPECT_EQ(broken.TakeNext(), std::nullopt);
}

}  // namespace
}  // namespace resptrace

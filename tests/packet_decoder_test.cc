#include "resptrace/packet_decoder.h"

#include <pcap/pcap.h>

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "pcap_builder.h"

namespace resptrace {
namespace {

using ::resptrace::test::EthernetFrame;
using ::resptrace::test::Ipv4Header;
using ::resptrace::test::Ipv4Packet;
using ::resptrace::test::Ipv6Extension;
using ::resptrace::test::Ipv6Header;
using ::resptrace::test::Ipv6Packet;
using ::resptrace::test::LoopbackFrame;
using ::resptrace::test::MakeEndpoint;
using ::resptrace::test::Sll2Frame;
using ::resptrace::test::SllFrame;
using ::resptrace::test::TcpHeader;
using ::resptrace::test::TcpIpPacket;
using ::resptrace::test::TcpSegmentBytes;
using ::resptrace::test::VlanTag;
using ::testing::HasSubstr;

constexpr char kPayload[] = "*1\r\n$4\r\nPING\r\n";

PacketDecoder Decoder(int dlt) {
  absl::StatusOr<PacketDecoder> d = PacketDecoder::ForLinkType(dlt);
  EXPECT_TRUE(d.ok()) << d.status();
  return *d;
}

TcpHeader SampleTcp() {
  TcpHeader t;
  t.src_port = 51000;
  t.dst_port = 6379;
  t.seq = 0xdeadbeef;
  t.ack = 0x01020304;
  t.flags = tcp_flags::kPsh | tcp_flags::kAck;
  return t;
}

// Decodes a whole frame (captured == wire).
DecodeResult DecodeWhole(const PacketDecoder& d, const std::string& frame, Segment& out) {
  return d.Decode(frame, static_cast<uint32_t>(frame.size()), out);
}

void ExpectSample(const Segment& s, const std::string& frame, const std::string& src,
                  const std::string& dst) {
  EXPECT_EQ(s.flow.src, MakeEndpoint(src, 51000));
  EXPECT_EQ(s.flow.dst, MakeEndpoint(dst, 6379));
  EXPECT_EQ(s.seq, 0xdeadbeefu);
  EXPECT_EQ(s.ack, 0x01020304u);
  EXPECT_EQ(s.flags, tcp_flags::kPsh | tcp_flags::kAck);
  EXPECT_EQ(s.payload, kPayload);
  EXPECT_EQ(s.payload_len, sizeof(kPayload) - 1);
  EXPECT_EQ(s.wire_len, frame.size());
  // The payload is a view into the frame, not a copy.
  EXPECT_EQ(s.payload.data(), frame.data() + frame.size() - (sizeof(kPayload) - 1));
}

// One link framing: how a DLT wraps an IP packet.
struct LinkCase {
  const char* name;
  int dlt;
  std::string (*wrap)(const std::string& ip);
  size_t header_len;  // link header bytes before the IP header
};

const LinkCase kLinkCases[] = {
    {"Ethernet", DLT_EN10MB,
     [](const std::string& ip) { return EthernetFrame(test::EtherTypeOf(ip), ip); }, 14},
    {"EthernetVlan", DLT_EN10MB,
     [](const std::string& ip) { return EthernetFrame(test::EtherTypeOf(ip), ip, {VlanTag{}}); },
     18},
    {"Sll", DLT_LINUX_SLL,
     [](const std::string& ip) { return SllFrame(test::EtherTypeOf(ip), ip); }, 16},
    {"Sll2", DLT_LINUX_SLL2,
     [](const std::string& ip) { return Sll2Frame(test::EtherTypeOf(ip), ip); }, 20},
    {"NullLittleEndian", DLT_NULL,
     [](const std::string& ip) {
       return LoopbackFrame(test::EtherTypeOf(ip) == test::kEtherIpv6 ? 30 : 2, ip);
     },
     4},
    {"NullBigEndian", DLT_NULL,
     [](const std::string& ip) {
       return LoopbackFrame(test::EtherTypeOf(ip) == test::kEtherIpv6 ? 24 : 2, ip, true);
     },
     4},
    {"Loop", DLT_LOOP,
     [](const std::string& ip) {
       return LoopbackFrame(test::EtherTypeOf(ip) == test::kEtherIpv6 ? 28 : 2, ip, true);
     },
     4},
    {"Raw", DLT_RAW, [](const std::string& ip) { return ip; }, 0},
    {"RawBsdOs", 14, [](const std::string& ip) { return ip; }, 0},
    {"LinktypeRaw", 101, [](const std::string& ip) { return ip; }, 0},
};

struct FamilyCase {
  const char* name;
  const char* src;
  const char* dst;
  size_t ip_header_len;
};

const FamilyCase kFamilies[] = {
    {"Ipv4", "192.168.1.10", "192.168.1.20", 20},
    {"Ipv6", "2001:db8::10", "2001:db8::6379", 40},
};

void PrintTo(const LinkCase& c, std::ostream* os) { *os << c.name; }
void PrintTo(const FamilyCase& c, std::ostream* os) { *os << c.name; }

class LinkFamilyTest : public ::testing::TestWithParam<std::tuple<LinkCase, FamilyCase>> {
 protected:
  const LinkCase& link() const { return std::get<0>(GetParam()); }
  const FamilyCase& family() const { return std::get<1>(GetParam()); }
  std::string Frame() const {
    return link().wrap(TcpIpPacket(family().src, family().dst, SampleTcp(), kPayload));
  }
};

TEST_P(LinkFamilyTest, DecodesTcpSegment) {
  const PacketDecoder d = Decoder(link().dlt);
  EXPECT_EQ(d.link_type(), link().dlt);
  const std::string frame = Frame();
  Segment s;
  ASSERT_EQ(DecodeWhole(d, frame, s), DecodeResult::kTcp);
  ExpectSample(s, frame, family().src, family().dst);
}

TEST_P(LinkFamilyTest, EveryCutBeforeTheTcpHeaderEndsIsTruncated) {
  const PacketDecoder d = Decoder(link().dlt);
  const std::string frame = Frame();
  const size_t headers_end = link().header_len + family().ip_header_len + 20;
  for (size_t cut = 0; cut < headers_end; ++cut) {
    // A heap copy of exactly `cut` bytes, so that ASan catches any read past it.
    const std::vector<char> bytes(frame.begin(), frame.begin() + static_cast<long>(cut));
    Segment s;
    EXPECT_EQ(d.Decode(std::string_view(bytes.data(), bytes.size()),
                       static_cast<uint32_t>(frame.size()), s),
              DecodeResult::kTruncated)
        << "cut at " << cut;
  }
}

TEST_P(LinkFamilyTest, SnaplenCutKeepsWireLengths) {
  const PacketDecoder d = Decoder(link().dlt);
  const std::string frame = Frame();
  const size_t headers_end = link().header_len + family().ip_header_len + 20;
  for (size_t kept = 0; kept <= sizeof(kPayload) - 1; ++kept) {
    const std::vector<char> bytes(frame.begin(),
                                  frame.begin() + static_cast<long>(headers_end + kept));
    Segment s;
    ASSERT_EQ(d.Decode(std::string_view(bytes.data(), bytes.size()),
                       static_cast<uint32_t>(frame.size()), s),
              DecodeResult::kTcp);
    EXPECT_EQ(s.payload, std::string_view(kPayload, kept));
    EXPECT_EQ(s.payload_len, sizeof(kPayload) - 1);
    EXPECT_EQ(s.wire_len, frame.size());
  }
}

INSTANTIATE_TEST_SUITE_P(AllLinks, LinkFamilyTest,
                         ::testing::Combine(::testing::ValuesIn(kLinkCases),
                                            ::testing::ValuesIn(kFamilies)),
                         [](const auto& info) {
                           return std::string(std::get<0>(info.param).name) +
                                  std::get<1>(info.param).name;
                         });

TEST(PacketDecoderTest, DltIpv4AndDltIpv6CarryBareIpPackets) {
  Segment s;
  const std::string v4 = TcpIpPacket("10.1.1.1", "10.2.2.2", SampleTcp(), kPayload);
  ASSERT_EQ(DecodeWhole(Decoder(DLT_IPV4), v4, s), DecodeResult::kTcp);
  ExpectSample(s, v4, "10.1.1.1", "10.2.2.2");
  const std::string v6 = TcpIpPacket("::1", "::2", SampleTcp(), kPayload);
  ASSERT_EQ(DecodeWhole(Decoder(DLT_IPV6), v6, s), DecodeResult::kTcp);
  ExpectSample(s, v6, "::1", "::2");
  // The DLT fixes the version: an IPv6 packet under DLT_IPV4 is malformed.
  EXPECT_EQ(DecodeWhole(Decoder(DLT_IPV4), v6, s), DecodeResult::kMalformed);
  EXPECT_EQ(DecodeWhole(Decoder(DLT_IPV6), v4, s), DecodeResult::kMalformed);
}

TEST(PacketDecoderTest, UnsupportedLinkTypeIsNamed) {
  absl::StatusOr<PacketDecoder> d = PacketDecoder::ForLinkType(DLT_IEEE802_11);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("unsupported link type IEEE802_11 (105"));
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("EN10MB"));
  EXPECT_THAT(std::string(d.status().message()), HasSubstr("LINUX_SLL2"));

  absl::StatusOr<PacketDecoder> unknown = PacketDecoder::ForLinkType(54321);
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(std::string(unknown.status().message()), HasSubstr("unsupported link type unknown (54321)"));
}

TEST(PacketDecoderTest, StackedVlanTagsOfEveryKind) {
  const std::string ip = TcpIpPacket("10.0.0.1", "10.0.0.2", SampleTcp(), kPayload);
  const PacketDecoder d = Decoder(DLT_EN10MB);
  Segment s;
  for (const std::vector<VlanTag>& tags : std::vector<std::vector<VlanTag>>{
           {{test::kEtherQinQ, 10}, {test::kEtherVlan, 20}},
           {{test::kEtherQinQLegacy, 10}, {test::kEtherVlan, 20}},
           {{test::kEtherQinQ, 1}, {test::kEtherQinQ, 2}, {test::kEtherVlan, 3}}}) {
    const std::string frame = EthernetFrame(test::kEtherIpv4, ip, tags);
    ASSERT_EQ(DecodeWhole(d, frame, s), DecodeResult::kTcp) << tags.size();
    ExpectSample(s, frame, "10.0.0.1", "10.0.0.2");
  }
}

TEST(PacketDecoderTest, VlanTagInsideLinuxCookedHeader) {
  // libpcap re-inserts the VLAN tag after the cooked header: protocol 0x8100, then the tag.
  std::string tagged_ip;
  test::PutBe16(tagged_ip, 42);
  test::PutBe16(tagged_ip, test::kEtherIpv6);
  tagged_ip += TcpIpPacket("fe80::1", "fe80::2", SampleTcp(), kPayload);
  const std::string frame = SllFrame(test::kEtherVlan, tagged_ip);
  Segment s;
  ASSERT_EQ(DecodeWhole(Decoder(DLT_LINUX_SLL), frame, s), DecodeResult::kTcp);
  ExpectSample(s, frame, "fe80::1", "fe80::2");
}

TEST(PacketDecoderTest, EthernetPaddingIsNotPayload) {
  TcpHeader t = SampleTcp();
  const std::string frame = EthernetFrame(
      test::kEtherIpv4, TcpIpPacket("10.0.0.1", "10.0.0.2", t, "ok"), {}, 60);
  ASSERT_EQ(frame.size(), 60u);
  Segment s;
  ASSERT_EQ(DecodeWhole(Decoder(DLT_EN10MB), frame, s), DecodeResult::kTcp);
  EXPECT_EQ(s.payload, "ok");
  EXPECT_EQ(s.payload_len, 2u);
  EXPECT_EQ(s.wire_len, 60u);

  // A bare ACK padded to 60 bytes has no payload at all.
  const std::string ack = EthernetFrame(
      test::kEtherIpv6, TcpIpPacket("::1", "::2", t, ""), {}, 60 + 40);
  ASSERT_EQ(DecodeWhole(Decoder(DLT_EN10MB), ack, s), DecodeResult::kTcp);
  EXPECT_EQ(s.payload, "");
  EXPECT_EQ(s.payload_len, 0u);
}

TEST(PacketDecoderTest, TcpOptionsAreSkipped) {
  TcpHeader t = SampleTcp();
  t.flags = tcp_flags::kSyn;
  // MSS 1460, SACK permitted, timestamps, NOP, window scale 7: 20 bytes of options.
  t.options = std::string("\x02\x04\x05\xb4\x04\x02\x08\x0a\x00\x00\x00\x01\x00\x00\x00\x00"
                          "\x01\x03\x03\x07",
                          20);
  const std::string frame =
      EthernetFrame(test::kEtherIpv4, TcpIpPacket("10.0.0.1", "10.0.0.2", t, "data"));
  Segment s;
  ASSERT_EQ(DecodeWhole(Decoder(DLT_EN10MB), frame, s), DecodeResult::kTcp);
  EXPECT_EQ(s.flags, tcp_flags::kSyn);
  EXPECT_EQ(s.payload, "data");
  EXPECT_EQ(s.payload_len, 4u);
  EXPECT_TRUE(s.has(tcp_flags::kSyn));
  EXPECT_FALSE(s.has(tcp_flags::kAck));
}

TEST(PacketDecoderTest, AllTcpFlagBitsPassThrough) {
  TcpHeader t = SampleTcp();
  t.flags = 0xff;  // FIN SYN RST PSH ACK URG ECE CWR
  const std::string ip = TcpIpPacket("10.0.0.1", "10.0.0.2", t, "");
  Segment s;
  ASSERT_EQ(DecodeWhole(Decoder(DLT_RAW), ip, s), DecodeResult::kTcp);
  EXPECT_EQ(s.flags, 0xff);
}

TEST(PacketDecoderTest, Ipv4OptionsAreSkipped) {
  Ipv4Header h;
  h.options = std::string("\x94\x04\x00\x00", 4);  // router alert
  const std::string ip = Ipv4Packet(h, TcpSegmentBytes(SampleTcp(), kPayload));
  Segment s;
  ASSERT_EQ(DecodeWhole(Decoder(DLT_RAW), ip, s), DecodeResult::kTcp);
  ExpectSample(s, ip, "10.0.0.1", "10.0.0.2");
}

TEST(PacketDecoderTest, Ipv6ExtensionHeadersAreWalked) {
  Ipv6Header h;
  h.src = "2001:db8::10";
  h.dst = "2001:db8::6379";
  h.extensions = {Ipv6Extension::Options(0), Ipv6Extension::Options(43, 14),
                  Ipv6Extension::Fragment(0, false), Ipv6Extension::Options(60, 22)};
  const std::string frame =
      EthernetFrame(test::kEtherIpv6, Ipv6Packet(h, TcpSegmentBytes(SampleTcp(), kPayload)));
  Segment s;
  ASSERT_EQ(DecodeWhole(Decoder(DLT_EN10MB), frame, s), DecodeResult::kTcp);
  ExpectSample(s, frame, "2001:db8::10", "2001:db8::6379");

  // Cut anywhere inside the extension headers or TCP header: truncated.
  const size_t headers_end = 14 + 40 + 8 + 16 + 8 + 24 + 20;
  for (size_t cut = 0; cut < headers_end; ++cut) {
    const std::vector<char> bytes(frame.begin(), frame.begin() + static_cast<long>(cut));
    EXPECT_EQ(Decoder(DLT_EN10MB).Decode(std::string_view(bytes.data(), bytes.size()),
                                         static_cast<uint32_t>(frame.size()), s),
              DecodeResult::kTruncated)
        << "cut at " << cut;
  }
}

TEST(PacketDecoderTest, Ipv6AuthenticationHeaderIsSkipped) {
  Ipv6Header h;
  h.extensions = {Ipv6Extension::Options(51, 22)};  // AH with a 12-byte ICV: 24 bytes
  const std::string ip = Ipv6Packet(h, TcpSegmentBytes(SampleTcp(), kPayload));
  Segment s;
  ASSERT_EQ(DecodeWhole(Decoder(DLT_RAW), ip, s), DecodeResult::kTcp);
  ExpectSample(s, ip, "fd00::1", "fd00::2");
}

TEST(PacketDecoderTest, Ipv6ExtensionHeaderLongerThanPayloadIsMalformed) {
  Ipv6Header h;
  h.extensions = {Ipv6Extension::Options(60, 6)};
  std::string ip = Ipv6Packet(h, TcpSegmentBytes(SampleTcp(), ""));
  ip[40 + 1] = 10;  // 88 bytes of options in a 28-byte payload
  Segment s;
  EXPECT_EQ(DecodeWhole(Decoder(DLT_RAW), ip, s), DecodeResult::kMalformed);
}

TEST(PacketDecoderTest, Ipv6NoNextHeaderAndUdpAreNotTcp) {
  Ipv6Header h;
  h.next_header = 59;
  Segment s;
  EXPECT_EQ(DecodeWhole(Decoder(DLT_RAW), Ipv6Packet(h, ""), s), DecodeResult::kNotTcp);
  h.next_header = test::kProtoUdp;
  h.extensions = {Ipv6Extension::Options(0)};
  EXPECT_EQ(DecodeWhole(Decoder(DLT_RAW), Ipv6Packet(h, std::string(8, '\0')), s),
            DecodeResult::kNotTcp);
}

TEST(PacketDecoderTest, Ipv6FragmentsAreCounted) {
  Segment s;
  const std::string tcp = TcpSegmentBytes(SampleTcp(), kPayload);
  for (const Ipv6Extension& frag :
       {Ipv6Extension::Fragment(0, true), Ipv6Extension::Fragment(185, false),
        Ipv6Extension::Fragment(185, true)}) {
    Ipv6Header h;
    h.extensions = {frag};
    EXPECT_EQ(DecodeWhole(Decoder(DLT_RAW), Ipv6Packet(h, tcp), s), DecodeResult::kFragment);
  }
}

TEST(PacketDecoderTest, Ipv4FragmentsAreCounted) {
  const std::string tcp = TcpSegmentBytes(SampleTcp(), kPayload);
  Segment s;
  Ipv4Header first;
  first.dont_fragment = false;
  first.more_fragments = true;
  EXPECT_EQ(DecodeWhole(Decoder(DLT_RAW), Ipv4Packet(first, tcp), s), DecodeResult::kFragment);
  Ipv4Header last;
  last.dont_fragment = false;
  last.fragment_offset = 185;
  EXPECT_EQ(DecodeWhole(Decoder(DLT_RAW), Ipv4Packet(last, tcp), s), DecodeResult::kFragment);
  Ipv4Header udp_fragment = last;
  udp_fragment.protocol = test::kProtoUdp;
  EXPECT_EQ(DecodeWhole(Decoder(DLT_RAW), Ipv4Packet(udp_fragment, tcp), s),
            DecodeResult::kFragment);
  Ipv4Header whole;  // DF alone is not a fragment
  EXPECT_EQ(DecodeWhole(Decoder(DLT_RAW), Ipv4Packet(whole, tcp), s), DecodeResult::kTcp);
}

TEST(PacketDecoderTest, NonIpFramesAreNotIp) {
  Segment s;
  const std::string arp(28, '\x01');
  EXPECT_EQ(DecodeWhole(Decoder(DLT_EN10MB), EthernetFrame(test::kEtherArp, arp), s),
            DecodeResult::kNotIp);
  // 802.3 length field (LLC follows), not an EtherType.
  EXPECT_EQ(DecodeWhole(Decoder(DLT_EN10MB), EthernetFrame(0x0026, arp), s),
            DecodeResult::kNotIp);
  EXPECT_EQ(DecodeWhole(Decoder(DLT_EN10MB), EthernetFrame(test::kEtherArp, arp, {VlanTag{}}), s),
            DecodeResult::kNotIp);
  EXPECT_EQ(DecodeWhole(Decoder(DLT_LINUX_SLL), SllFrame(test::kEtherArp, arp), s),
            DecodeResult::kNotIp);
  EXPECT_EQ(DecodeWhole(Decoder(DLT_LINUX_SLL2), Sll2Frame(test::kEtherArp, arp), s),
            DecodeResult::kNotIp);
  EXPECT_EQ(DecodeWhole(Decoder(DLT_NULL), LoopbackFrame(7, arp), s), DecodeResult::kNotIp);
  EXPECT_EQ(DecodeWhole(Decoder(DLT_RAW), "\x50" + arp, s), DecodeResult::kNotIp);
}

TEST(PacketDecoderTest, UdpIsNotTcp) {
  Ipv4Header h;
  h.protocol = test::kProtoUdp;
  Segment s;
  EXPECT_EQ(DecodeWhole(Decoder(DLT_EN10MB),
                        EthernetFrame(test::kEtherIpv4, Ipv4Packet(h, std::string(8, '\0'))), s),
            DecodeResult::kNotTcp);
}

TEST(PacketDecoderTest, MalformedIpv4Headers) {
  const std::string tcp = TcpSegmentBytes(SampleTcp(), kPayload);
  Segment s;
  const PacketDecoder d = Decoder(DLT_RAW);
  Ipv4Header h;
  h.ihl_override = 4;  // below the minimum of 5 words
  EXPECT_EQ(DecodeWhole(d, Ipv4Packet(h, tcp), s), DecodeResult::kMalformed);
  h.ihl_override = 15;  // 60-byte header in a 54-byte packet
  h.total_length_override = 54;
  EXPECT_EQ(DecodeWhole(d, Ipv4Packet(h, tcp), s), DecodeResult::kMalformed);
  Ipv4Header short_total;
  short_total.total_length_override = 30;  // leaves 10 bytes for a 20-byte TCP header
  EXPECT_EQ(DecodeWhole(d, Ipv4Packet(short_total, tcp), s), DecodeResult::kMalformed);
  Ipv4Header below_header;
  below_header.total_length_override = 19;
  EXPECT_EQ(DecodeWhole(d, Ipv4Packet(below_header, tcp), s), DecodeResult::kMalformed);
  // Ethernet says IPv4, the packet says 6.
  const std::string v6 = TcpIpPacket("::1", "::2", SampleTcp(), kPayload);
  EXPECT_EQ(DecodeWhole(Decoder(DLT_EN10MB), EthernetFrame(test::kEtherIpv4, v6), s),
            DecodeResult::kMalformed);
}

TEST(PacketDecoderTest, IhlBeyondTheCapturedBytesIsTruncated) {
  Ipv4Header h;
  h.options = std::string(40, '\x01');  // 60-byte header
  const std::string ip = Ipv4Packet(h, TcpSegmentBytes(SampleTcp(), kPayload));
  Segment s;
  EXPECT_EQ(Decoder(DLT_RAW).Decode(std::string_view(ip).substr(0, 40),
                                    static_cast<uint32_t>(ip.size()), s),
            DecodeResult::kTruncated);
}

TEST(PacketDecoderTest, MalformedTcpDataOffset) {
  Segment s;
  const PacketDecoder d = Decoder(DLT_RAW);
  for (const std::string& src : {std::string("10.0.0.1"), std::string("::1")}) {
    const std::string dst = src == "::1" ? "::2" : "10.0.0.2";
    TcpHeader t = SampleTcp();
    t.data_offset_override = 4;  // below the minimum of 5 words
    EXPECT_EQ(DecodeWhole(d, TcpIpPacket(src, dst, t, kPayload), s), DecodeResult::kMalformed)
        << src;
    t.data_offset_override = 15;  // 60 bytes in a 20 + 3 byte segment
    EXPECT_EQ(DecodeWhole(d, TcpIpPacket(src, dst, t, "abc"), s), DecodeResult::kMalformed)
        << src;
  }
}

TEST(PacketDecoderTest, CookedHeadersGiveTheInterfaceAndDirection) {
  const std::string ip = TcpIpPacket("10.0.0.1", "10.0.0.2", SampleTcp(), kPayload);
  Segment s;  // one segment for every frame, as the readers do: nothing may stick
  ASSERT_EQ(DecodeWhole(Decoder(DLT_LINUX_SLL2),
                        Sll2Frame(test::kEtherIpv4, ip, 42, test::kPacketOutgoing), s),
            DecodeResult::kTcp);
  EXPECT_EQ(s.ifindex, 42u);
  EXPECT_TRUE(s.outgoing);
  ASSERT_EQ(DecodeWhole(Decoder(DLT_LINUX_SLL2), Sll2Frame(test::kEtherIpv4, ip, 7), s),
            DecodeResult::kTcp);
  EXPECT_EQ(s.ifindex, 7u);
  EXPECT_FALSE(s.outgoing);
  // Cooked v1 says the direction, not the interface.
  ASSERT_EQ(DecodeWhole(Decoder(DLT_LINUX_SLL),
                        SllFrame(test::kEtherIpv4, ip, test::kPacketOutgoing), s),
            DecodeResult::kTcp);
  EXPECT_EQ(s.ifindex, 0u);
  EXPECT_TRUE(s.outgoing);
  ASSERT_EQ(DecodeWhole(Decoder(DLT_EN10MB), EthernetFrame(test::kEtherIpv4, ip), s),
            DecodeResult::kTcp);
  EXPECT_EQ(s.ifindex, 0u);
  EXPECT_FALSE(s.outgoing);
}

TEST(PacketDecoderTest, Ipv4TotalLengthZeroUsesTheFrameLength) {
  Ipv4Header h;
  h.total_length_override = 0;  // as captured before TCP segmentation offload
  const std::string big_payload(3000, 'x');
  const std::string frame =
      EthernetFrame(test::kEtherIpv4, Ipv4Packet(h, TcpSegmentBytes(SampleTcp(), big_payload)));
  Segment s;
  ASSERT_EQ(DecodeWhole(Decoder(DLT_EN10MB), frame, s), DecodeResult::kTcp);
  EXPECT_EQ(s.payload, big_payload);
  EXPECT_EQ(s.payload_len, 3000u);

  // Cut by a snaplen: the wire length still says how much payload there was.
  ASSERT_EQ(Decoder(DLT_EN10MB).Decode(std::string_view(frame).substr(0, 100),
                                       static_cast<uint32_t>(frame.size()), s),
            DecodeResult::kTcp);
  EXPECT_EQ(s.payload, big_payload.substr(0, 100 - 14 - 20 - 20));
  EXPECT_EQ(s.payload_len, 3000u);
}

TEST(PacketDecoderTest, Ipv6PayloadLengthZeroUsesTheFrameLength) {
  Ipv6Header h;
  h.payload_length_override = 0;  // jumbogram-style
  h.extensions = {Ipv6Extension::Options(0)};
  const std::string big_payload(70000, 'y');
  const std::string frame = Sll2Frame(
      test::kEtherIpv6, Ipv6Packet(h, TcpSegmentBytes(SampleTcp(), big_payload)));
  Segment s;
  ASSERT_EQ(DecodeWhole(Decoder(DLT_LINUX_SLL2), frame, s), DecodeResult::kTcp);
  EXPECT_EQ(s.payload.size(), 70000u);
  EXPECT_EQ(s.payload_len, 70000u);
  EXPECT_EQ(s.wire_len, frame.size());
}

TEST(PacketDecoderTest, IpLengthBeyondTheWireIsMissingPayload) {
  // The IP header is trusted for the payload length; the bytes it promises are missing.
  Ipv4Header h;
  h.total_length_override = 20 + 20 + 100;
  const std::string ip = Ipv4Packet(h, TcpSegmentBytes(SampleTcp(), "abc"));
  Segment s;
  ASSERT_EQ(DecodeWhole(Decoder(DLT_RAW), ip, s), DecodeResult::kTcp);
  EXPECT_EQ(s.payload, "abc");
  EXPECT_EQ(s.payload_len, 100u);
}

TEST(PacketDecoderTest, WireLengthBelowCapturedLengthIsRaisedToIt) {
  const std::string ip = TcpIpPacket("10.0.0.1", "10.0.0.2", SampleTcp(), kPayload);
  Segment s;
  ASSERT_EQ(Decoder(DLT_RAW).Decode(ip, 10, s), DecodeResult::kTcp);
  EXPECT_EQ(s.wire_len, ip.size());
  EXPECT_EQ(s.payload, kPayload);
}

TEST(PacketDecoderTest, RandomBytesNeverReadOutOfBounds) {
  // Mutated valid frames and pure noise, on every link type; ASan checks the bounds.
  std::mt19937 rng(12345);
  const std::string seeds[] = {
      TcpIpPacket("10.0.0.1", "10.0.0.2", SampleTcp(), kPayload),
      TcpIpPacket("::1", "::2", SampleTcp(), kPayload),
  };
  const int dlts[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL, DLT_LOOP,
                      DLT_RAW,    DLT_IPV4,      DLT_IPV6};
  size_t tcp = 0;
  for (int dlt : dlts) {
    const PacketDecoder d = Decoder(dlt);
    for (int i = 0; i < 4000; ++i) {
      std::string frame;
      if (i % 2 == 0) {
        const std::string& seed = seeds[static_cast<size_t>(i / 2) % 2];
        frame = seed;
        for (int k = 0; k < 4; ++k) {
          frame[rng() % frame.size()] = static_cast<char>(rng());
        }
        frame = (dlt == DLT_EN10MB ? EthernetFrame(test::EtherTypeOf(seed), frame)
                                   : dlt == DLT_LINUX_SLL ? SllFrame(test::EtherTypeOf(seed), frame)
                                   : dlt == DLT_LINUX_SLL2 ? Sll2Frame(test::EtherTypeOf(seed), frame)
                                   : dlt == DLT_NULL || dlt == DLT_LOOP ? LoopbackFrame(2, frame)
                                                                        : frame);
      } else {
        frame.resize(rng() % 120);
        for (char& c : frame) c = static_cast<char>(rng());
      }
      const size_t cut = rng() % (frame.size() + 1);
      const std::vector<char> bytes(frame.begin(), frame.begin() + static_cast<long>(cut));
      Segment s;
      const uint32_t wire = static_cast<uint32_t>(frame.size() + rng() % 3 * 1000);
      if (d.Decode(std::string_view(bytes.data(), bytes.size()), wire, s) == DecodeResult::kTcp) {
        ++tcp;
        EXPECT_GE(s.payload.data(), bytes.data());
        EXPECT_LE(s.payload.data() + s.payload.size(), bytes.data() + bytes.size());
        EXPECT_LE(s.payload.size(), s.payload_len);
      }
    }
  }
  EXPECT_GT(tcp, 0u);  // the mutations leave some frames decodable
}

TEST(DecodeResultNameTest, NamesEveryResult) {
  EXPECT_STREQ(DecodeResultName(DecodeResult::kTcp), "tcp");
  EXPECT_STREQ(DecodeResultName(DecodeResult::kNotIp), "not_ip");
  EXPECT_STREQ(DecodeResultName(DecodeResult::kNotTcp), "not_tcp");
  EXPECT_STREQ(DecodeResultName(DecodeResult::kFragment), "fragment");
  EXPECT_STREQ(DecodeResultName(DecodeResult::kTruncated), "truncated");
  EXPECT_STREQ(DecodeResultName(DecodeResult::kMalformed), "malformed");
}

}  // namespace
}  // namespace resptrace

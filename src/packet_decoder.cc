#include "resptrace/packet_decoder.h"

#include <pcap/pcap.h>

#include <algorithm>
#include <cstddef>
#include <optional>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace resptrace {
namespace {

constexpr uint16_t kEtherTypeIpv4 = 0x0800;
constexpr uint16_t kEtherTypeIpv6 = 0x86DD;
constexpr uint16_t kEtherTypeVlan = 0x8100;       // 802.1Q
constexpr uint16_t kEtherTypeQinQ = 0x88A8;       // 802.1ad
constexpr uint16_t kEtherTypeQinQLegacy = 0x9100;  // pre-standard stacked VLAN

constexpr uint8_t kIpProtoTcp = 6;
constexpr uint8_t kIpv6HopByHop = 0;
constexpr uint8_t kIpv6Routing = 43;
constexpr uint8_t kIpv6Fragment = 44;
constexpr uint8_t kIpv6Auth = 51;
constexpr uint8_t kIpv6NoNextHeader = 59;
constexpr uint8_t kIpv6DestOptions = 60;

// The BSD loopback header holds the sender's AF_ value; AF_INET6 differs per BSD.
constexpr uint32_t kBsdAfInet = 2;
constexpr uint32_t kBsdAfInet6NetBsd = 24;  // NetBSD, OpenBSD, BSD/OS
constexpr uint32_t kBsdAfInet6FreeBsd = 28;
constexpr uint32_t kBsdAfInet6Darwin = 30;

// Raw IP goes by several numbers: DLT_RAW is 12 on most systems but 14 on BSD/OS, and
// LINKTYPE_RAW (101) is what files carry (libpcap maps it to DLT_RAW).
constexpr int kDltRawCommon = 12;
constexpr int kDltRawBsdOs = 14;
constexpr int kLinkTypeRaw = 101;

constexpr size_t kEthernetHeaderLen = 14;
constexpr size_t kVlanTagLen = 4;
constexpr size_t kSllHeaderLen = 16;
// The cooked headers' packet type for what the host sent (Linux PACKET_OUTGOING).
constexpr uint8_t kSllPacketOutgoing = 4;
constexpr size_t kSll2HeaderLen = 20;
constexpr size_t kLoopbackHeaderLen = 4;
constexpr size_t kIpv4MinHeaderLen = 20;
constexpr size_t kIpv6HeaderLen = 40;
constexpr size_t kIpv6ExtMinLen = 8;
constexpr size_t kTcpMinHeaderLen = 20;

inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
inline uint32_t Be32(const uint8_t* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | uint32_t{p[3]};
}
inline uint32_t Le32(const uint8_t* p) {
  return uint32_t{p[3]} << 24 | uint32_t{p[2]} << 16 | uint32_t{p[1]} << 8 | uint32_t{p[0]};
}

// The part of a frame still to decode: `cap` bytes were captured out of the `wire`
// bytes that were on the wire (cap <= wire).
struct Bytes {
  const uint8_t* p;
  size_t cap;
  size_t wire;

  // Requires n <= cap.
  Bytes Skip(size_t n) const { return Bytes{p + n, cap - n, wire - n}; }
};

// `cap` captured bytes of a TCP segment whose IP-declared length is `len`.
DecodeResult DecodeTcp(const uint8_t* p, size_t cap, size_t len, Segment& out) {
  if (len < kTcpMinHeaderLen) return DecodeResult::kMalformed;
  if (cap < kTcpMinHeaderLen) return DecodeResult::kTruncated;
  const size_t header_len = (size_t{p[12]} >> 4) * 4;
  if (header_len < kTcpMinHeaderLen || header_len > len) return DecodeResult::kMalformed;
  if (header_len > cap) return DecodeResult::kTruncated;
  out.flow.src.port = Be16(p);
  out.flow.dst.port = Be16(p + 2);
  out.seq = Be32(p + 4);
  out.ack = Be32(p + 8);
  out.flags = p[13];
  out.payload = std::string_view(reinterpret_cast<const char*>(p + header_len), cap - header_len);
  out.payload_len = static_cast<uint32_t>(len - header_len);
  return DecodeResult::kTcp;
}

DecodeResult DecodeIpv4(Bytes b, Segment& out) {
  if (b.cap < kIpv4MinHeaderLen) return DecodeResult::kTruncated;
  const uint8_t* h = b.p;
  if (h[0] >> 4 != 4) return DecodeResult::kMalformed;
  const size_t header_len = (size_t{h[0]} & 0x0f) * 4;
  if (header_len < kIpv4MinHeaderLen) return DecodeResult::kMalformed;
  size_t total_len = Be16(h + 2);
  // Captures taken before TCP segmentation offload show 0: the NIC fills it in later.
  if (total_len == 0) total_len = b.wire;
  if (total_len < header_len) return DecodeResult::kMalformed;
  if (header_len > b.cap) return DecodeResult::kTruncated;
  if ((Be16(h + 6) & 0x3fff) != 0) return DecodeResult::kFragment;  // MF or an offset
  if (h[9] != kIpProtoTcp) return DecodeResult::kNotTcp;
  out.flow.src.addr = IpAddress::V4(h + 12);
  out.flow.dst.addr = IpAddress::V4(h + 16);
  // Capping at total_len drops Ethernet padding.
  const size_t cap = std::min(b.cap, total_len);
  return DecodeTcp(h + header_len, cap - header_len, total_len - header_len, out);
}

DecodeResult DecodeIpv6(Bytes b, Segment& out) {
  if (b.cap < kIpv6HeaderLen) return DecodeResult::kTruncated;
  const uint8_t* h = b.p;
  if (h[0] >> 4 != 6) return DecodeResult::kMalformed;
  size_t len = Be16(h + 4);
  // 0 means a jumbogram (or a capture before segmentation offload): the frame says.
  if (len == 0) len = b.wire - kIpv6HeaderLen;
  size_t cap = std::min(b.cap - kIpv6HeaderLen, len);
  const uint8_t* p = h + kIpv6HeaderLen;
  uint8_t next = h[6];
  // Each extension header consumes at least 8 bytes, so this ends within the frame.
  for (;;) {
    size_t ext_len;
    switch (next) {
      case kIpProtoTcp:
        out.flow.src.addr = IpAddress::V6(h + 8);
        out.flow.dst.addr = IpAddress::V6(h + 24);
        return DecodeTcp(p, cap, len, out);
      case kIpv6HopByHop:
      case kIpv6Routing:
      case kIpv6DestOptions:
      case kIpv6Fragment:
      case kIpv6Auth:
        if (len < kIpv6ExtMinLen) return DecodeResult::kMalformed;
        if (cap < kIpv6ExtMinLen) return DecodeResult::kTruncated;
        if (next == kIpv6Fragment) {
          // Offset (13 bits) and M flag; an atomic fragment (both zero) is whole.
          if ((Be16(p + 2) & 0xfff9) != 0) return DecodeResult::kFragment;
          ext_len = kIpv6ExtMinLen;
        } else if (next == kIpv6Auth) {
          ext_len = (size_t{p[1]} + 2) * 4;
        } else {
          ext_len = (size_t{p[1]} + 1) * 8;
        }
        if (ext_len > len) return DecodeResult::kMalformed;
        if (ext_len > cap) return DecodeResult::kTruncated;
        next = p[0];
        p += ext_len;
        cap -= ext_len;
        len -= ext_len;
        break;
      case kIpv6NoNextHeader:
      default:
        return DecodeResult::kNotTcp;
    }
  }
}

// Dispatches on an EtherType, first skipping any stack of VLAN tags.
DecodeResult DecodeEtherType(uint16_t type, Bytes b, Segment& out) {
  while (type == kEtherTypeVlan || type == kEtherTypeQinQ || type == kEtherTypeQinQLegacy) {
    if (b.cap < kVlanTagLen) return DecodeResult::kTruncated;
    type = Be16(b.p + 2);
    b = b.Skip(kVlanTagLen);
  }
  switch (type) {
    case kEtherTypeIpv4:
      return DecodeIpv4(b, out);
    case kEtherTypeIpv6:
      return DecodeIpv6(b, out);
    default:
      return DecodeResult::kNotIp;
  }
}

DecodeResult DecodeRawIp(Bytes b, Segment& out) {
  if (b.cap < 1) return DecodeResult::kTruncated;
  switch (b.p[0] >> 4) {
    case 4:
      return DecodeIpv4(b, out);
    case 6:
      return DecodeIpv6(b, out);
    default:
      return DecodeResult::kNotIp;
  }
}

DecodeResult DecodeLoopback(Bytes b, Segment& out) {
  if (b.cap < kLoopbackHeaderLen) return DecodeResult::kTruncated;
  // DLT_NULL is in the capturing host's byte order (DLT_LOOP in network order, but
  // writers get it wrong): AF_ values are small, so the order that yields one wins.
  uint32_t family = Le32(b.p);
  if (family > 0xffff) family = Be32(b.p);
  const Bytes ip = b.Skip(kLoopbackHeaderLen);
  switch (family) {
    case kBsdAfInet:
      return DecodeIpv4(ip, out);
    case kBsdAfInet6NetBsd:
    case kBsdAfInet6FreeBsd:
    case kBsdAfInet6Darwin:
      return DecodeIpv6(ip, out);
    default:
      return DecodeResult::kNotIp;
  }
}

}  // namespace

absl::StatusOr<PacketDecoder> PacketDecoder::ForLinkType(int dlt) {
  std::optional<Framing> framing;
  if (dlt == DLT_EN10MB) {
    framing = Framing::kEthernet;
  } else if (dlt == DLT_LINUX_SLL) {
    framing = Framing::kSll;
  } else if (dlt == DLT_LINUX_SLL2) {
    framing = Framing::kSll2;
  } else if (dlt == DLT_NULL || dlt == DLT_LOOP) {
    framing = Framing::kLoopback;
  } else if (dlt == DLT_RAW || dlt == kDltRawCommon || dlt == kDltRawBsdOs ||
             dlt == kLinkTypeRaw) {
    framing = Framing::kRawIp;
  } else if (dlt == DLT_IPV4) {
    framing = Framing::kIpv4;
  } else if (dlt == DLT_IPV6) {
    framing = Framing::kIpv6;
  }
  if (framing.has_value()) return PacketDecoder(dlt, *framing);

  const char* name = pcap_datalink_val_to_name(dlt);
  const char* description = pcap_datalink_val_to_description(dlt);
  return absl::InvalidArgumentError(absl::StrCat(
      "unsupported link type ", name != nullptr ? name : "unknown", " (", dlt,
      description != nullptr ? absl::StrCat(", ", description) : "",
      "); resptrace reads Ethernet (EN10MB, with VLAN tags), Linux cooked (LINUX_SLL, "
      "LINUX_SLL2), BSD loopback (NULL, LOOP) and raw IP (RAW, IPV4, IPV6) captures"));
}

DecodeResult PacketDecoder::Decode(std::string_view frame, uint32_t wire_len, Segment& out) const {
  // A writer that recorded wire < captured is wrong about the wire; the bytes are real.
  const Bytes b{reinterpret_cast<const uint8_t*>(frame.data()), frame.size(),
                std::max<size_t>(wire_len, frame.size())};
  out.wire_len = static_cast<uint32_t>(b.wire);
  out.ifindex = 0;
  out.outgoing = false;
  switch (framing_) {
    case Framing::kEthernet:
      if (b.cap < kEthernetHeaderLen) return DecodeResult::kTruncated;
      return DecodeEtherType(Be16(b.p + 12), b.Skip(kEthernetHeaderLen), out);
    case Framing::kSll:
      if (b.cap < kSllHeaderLen) return DecodeResult::kTruncated;
      out.outgoing = Be16(b.p) == kSllPacketOutgoing;
      return DecodeEtherType(Be16(b.p + 14), b.Skip(kSllHeaderLen), out);
    case Framing::kSll2:
      if (b.cap < kSll2HeaderLen) return DecodeResult::kTruncated;
      out.ifindex = Be32(b.p + 4);
      out.outgoing = b.p[10] == kSllPacketOutgoing;
      return DecodeEtherType(Be16(b.p), b.Skip(kSll2HeaderLen), out);
    case Framing::kLoopback:
      return DecodeLoopback(b, out);
    case Framing::kRawIp:
      return DecodeRawIp(b, out);
    case Framing::kIpv4:
      return DecodeIpv4(b, out);
    case Framing::kIpv6:
      return DecodeIpv6(b, out);
  }
  return DecodeResult::kMalformed;
}

const char* DecodeResultName(DecodeResult r) {
  switch (r) {
    case DecodeResult::kTcp:
      return "tcp";
    case DecodeResult::kNotIp:
      return "not_ip";
    case DecodeResult::kNotTcp:
      return "not_tcp";
    case DecodeResult::kFragment:
      return "fragment";
    case DecodeResult::kTruncated:
      return "truncated";
    case DecodeResult::kMalformed:
      return "malformed";
  }
  return "unknown";
}

}  // namespace resptrace

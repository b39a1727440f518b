// Test helper: crafts link-layer frames carrying IPv4/IPv6 + TCP and writes them to
// pcap files (through libpcap, so the files are what tcpdump would write), or writes
// raw bytes for corrupt files. Header-only; checksums are left zero.
#ifndef RESPTRACE_TESTS_PCAP_BUILDER_H_
#define RESPTRACE_TESTS_PCAP_BUILDER_H_

#include <arpa/inet.h>
#include <pcap/pcap.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "resptrace/flow_key.h"
#include "resptrace/segment.h"

namespace resptrace::test {

inline constexpr uint16_t kEtherIpv4 = 0x0800;
inline constexpr uint16_t kEtherIpv6 = 0x86DD;
inline constexpr uint16_t kEtherArp = 0x0806;
inline constexpr uint16_t kEtherVlan = 0x8100;
inline constexpr uint16_t kEtherQinQ = 0x88A8;
inline constexpr uint16_t kEtherQinQLegacy = 0x9100;

inline constexpr uint8_t kProtoTcp = 6;
inline constexpr uint8_t kProtoUdp = 17;

inline void PutBe16(std::string& s, uint16_t v) {
  s.push_back(static_cast<char>(v >> 8));
  s.push_back(static_cast<char>(v));
}
inline void PutBe32(std::string& s, uint32_t v) {
  PutBe16(s, static_cast<uint16_t>(v >> 16));
  PutBe16(s, static_cast<uint16_t>(v));
}
inline void PutLe32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>(v >> (8 * i)));
}

// "10.0.0.1" or "::1": the text form decides the family.
inline IpAddress ParseIp(const std::string& text) {
  uint8_t b[16] = {};
  if (text.find(':') != std::string::npos) {
    if (inet_pton(AF_INET6, text.c_str(), b) != 1) throw std::invalid_argument(text);
    return IpAddress::V6(b);
  }
  if (inet_pton(AF_INET, text.c_str(), b) != 1) throw std::invalid_argument(text);
  return IpAddress::V4(b);
}

inline Endpoint MakeEndpoint(const std::string& ip, uint16_t port) {
  return Endpoint{ParseIp(ip), port};
}

inline std::string AddressBytes(const IpAddress& a) {
  return std::string(reinterpret_cast<const char*>(a.bytes.data()), a.is_v6 ? 16 : 4);
}

struct TcpHeader {
  uint16_t src_port = 40000;
  uint16_t dst_port = 6379;
  uint32_t seq = 1000;
  uint32_t ack = 0;
  uint8_t flags = tcp_flags::kAck;
  uint16_t window = 65535;
  std::string options;  // raw option bytes; padded with EOL to a multiple of 4
  // When set, the data-offset field in 32-bit words, whatever the header holds.
  int data_offset_override = -1;
};

// TCP header + payload.
inline std::string TcpSegmentBytes(const TcpHeader& t, std::string_view payload) {
  std::string options = t.options;
  while (options.size() % 4 != 0) options.push_back('\0');
  const size_t words = (20 + options.size()) / 4;
  const uint8_t data_offset =
      static_cast<uint8_t>(t.data_offset_override >= 0 ? t.data_offset_override : words);
  std::string s;
  PutBe16(s, t.src_port);
  PutBe16(s, t.dst_port);
  PutBe32(s, t.seq);
  PutBe32(s, t.ack);
  s.push_back(static_cast<char>(data_offset << 4));
  s.push_back(static_cast<char>(t.flags));
  PutBe16(s, t.window);
  PutBe16(s, 0);  // checksum
  PutBe16(s, 0);  // urgent pointer
  s += options;
  s.append(payload);
  return s;
}

struct Ipv4Header {
  std::string src = "10.0.0.1";
  std::string dst = "10.0.0.2";
  uint8_t protocol = kProtoTcp;
  uint8_t ttl = 64;
  uint16_t id = 1;
  bool more_fragments = false;
  bool dont_fragment = true;
  uint16_t fragment_offset = 0;  // in 8-byte units
  std::string options;           // raw; padded with EOL to a multiple of 4
  int ihl_override = -1;         // header length field in words, when set
  int total_length_override = -1;
};

// IPv4 header + `body` (the layer-4 bytes).
inline std::string Ipv4Packet(const Ipv4Header& h, std::string_view body) {
  std::string options = h.options;
  while (options.size() % 4 != 0) options.push_back('\0');
  const size_t header_len = 20 + options.size();
  const uint8_t ihl =
      static_cast<uint8_t>(h.ihl_override >= 0 ? h.ihl_override : header_len / 4);
  const uint16_t total = static_cast<uint16_t>(
      h.total_length_override >= 0 ? h.total_length_override : header_len + body.size());
  std::string s;
  s.push_back(static_cast<char>(0x40 | (ihl & 0x0f)));
  s.push_back(0);  // DSCP/ECN
  PutBe16(s, total);
  PutBe16(s, h.id);
  PutBe16(s, static_cast<uint16_t>((h.dont_fragment ? 0x4000 : 0) |
                                   (h.more_fragments ? 0x2000 : 0) |
                                   (h.fragment_offset & 0x1fff)));
  s.push_back(static_cast<char>(h.ttl));
  s.push_back(static_cast<char>(h.protocol));
  PutBe16(s, 0);  // checksum
  s += AddressBytes(ParseIp(h.src));
  s += AddressBytes(ParseIp(h.dst));
  s += options;
  s.append(body);
  return s;
}

// One IPv6 extension header in wire form (RFC 8200 layout).
struct Ipv6Extension {
  uint8_t type;      // 0 hop-by-hop, 43 routing, 44 fragment, 51 AH, 60 destination options
  std::string body;  // bytes after next-header/length: 8n-2 bytes (AH: 4n-2, n >= 3)
  static Ipv6Extension Options(uint8_t type, size_t body_len = 6) {
    return Ipv6Extension{type, std::string(body_len, '\0')};
  }
  static Ipv6Extension Fragment(uint16_t offset_units, bool more, uint32_t id = 7) {
    std::string b;
    PutBe16(b, static_cast<uint16_t>(offset_units << 3 | (more ? 1 : 0)));
    PutBe32(b, id);
    return Ipv6Extension{44, b};
  }
};

struct Ipv6Header {
  std::string src = "fd00::1";
  std::string dst = "fd00::2";
  uint8_t next_header = kProtoTcp;  // the upper layer after `extensions`
  uint8_t hop_limit = 64;
  std::vector<Ipv6Extension> extensions;
  int payload_length_override = -1;
};

// IPv6 header + extension headers + `body`.
inline std::string Ipv6Packet(const Ipv6Header& h, std::string_view body) {
  std::string exts;
  for (size_t i = 0; i < h.extensions.size(); ++i) {
    const Ipv6Extension& e = h.extensions[i];
    const uint8_t next = i + 1 < h.extensions.size() ? h.extensions[i + 1].type : h.next_header;
    exts.push_back(static_cast<char>(next));
    if (e.type == 44) {
      exts.push_back(0);  // reserved
    } else if (e.type == 51) {
      exts.push_back(static_cast<char>((e.body.size() + 2) / 4 - 2));
    } else {
      exts.push_back(static_cast<char>((e.body.size() + 2) / 8 - 1));
    }
    exts += e.body;
  }
  const uint16_t payload_len = static_cast<uint16_t>(
      h.payload_length_override >= 0 ? h.payload_length_override : exts.size() + body.size());
  const uint8_t first = h.extensions.empty() ? h.next_header : h.extensions[0].type;
  std::string s;
  PutBe32(s, 0x60000000);  // version, traffic class, flow label
  PutBe16(s, payload_len);
  s.push_back(static_cast<char>(first));
  s.push_back(static_cast<char>(h.hop_limit));
  s += AddressBytes(ParseIp(h.src));
  s += AddressBytes(ParseIp(h.dst));
  s += exts;
  s.append(body);
  return s;
}

// A TCP segment in an IPv4 or IPv6 packet, chosen by the family of `src`.
inline std::string TcpIpPacket(const std::string& src, const std::string& dst,
                               const TcpHeader& tcp, std::string_view payload) {
  const std::string l4 = TcpSegmentBytes(tcp, payload);
  if (src.find(':') != std::string::npos) {
    Ipv6Header h;
    h.src = src;
    h.dst = dst;
    return Ipv6Packet(h, l4);
  }
  Ipv4Header h;
  h.src = src;
  h.dst = dst;
  return Ipv4Packet(h, l4);
}

inline uint16_t EtherTypeOf(std::string_view ip_packet) {
  return !ip_packet.empty() && (static_cast<uint8_t>(ip_packet[0]) >> 4) == 6 ? kEtherIpv6
                                                                             : kEtherIpv4;
}

struct VlanTag {
  uint16_t tpid = kEtherVlan;  // 0x8100, 0x88A8 or 0x9100
  uint16_t tci = 100;          // priority + VLAN id
};

// Ethernet II; `tags` outermost first; zero-padded to `min_frame_len` (60 on a real NIC).
inline std::string EthernetFrame(uint16_t ethertype, std::string_view payload,
                                 const std::vector<VlanTag>& tags = {},
                                 size_t min_frame_len = 0) {
  std::string s = std::string("\x02\x00\x00\x00\x00\x02", 6) +  // destination
                  std::string("\x02\x00\x00\x00\x00\x01", 6);   // source
  for (const VlanTag& t : tags) {
    PutBe16(s, t.tpid);
    PutBe16(s, t.tci);
  }
  PutBe16(s, ethertype);
  s.append(payload);
  if (s.size() < min_frame_len) s.resize(min_frame_len, '\0');
  return s;
}

// The cooked headers' packet types (Linux PACKET_*).
inline constexpr uint8_t kPacketHost = 0;
inline constexpr uint8_t kPacketOutgoing = 4;

// Linux cooked capture v1 (DLT_LINUX_SLL, 16-byte header).
inline std::string SllFrame(uint16_t protocol, std::string_view payload,
                            uint8_t packet_type = kPacketHost) {
  std::string s;
  PutBe16(s, packet_type);
  PutBe16(s, 1);  // ARPHRD_ETHER
  PutBe16(s, 6);  // address length
  s += std::string("\x02\x00\x00\x00\x00\x01\x00\x00", 8);
  PutBe16(s, protocol);
  s.append(payload);
  return s;
}

// Linux cooked capture v2 (DLT_LINUX_SLL2, 20-byte header).
inline std::string Sll2Frame(uint16_t protocol, std::string_view payload, uint32_t ifindex = 2,
                             uint8_t packet_type = kPacketHost) {
  std::string s;
  PutBe16(s, protocol);
  PutBe16(s, 0);  // reserved
  PutBe32(s, ifindex);
  PutBe16(s, 1);  // ARPHRD_ETHER
  s.push_back(static_cast<char>(packet_type));
  s.push_back(6);  // address length
  s += std::string("\x02\x00\x00\x00\x00\x01\x00\x00", 8);
  s.append(payload);
  return s;
}

// BSD loopback (DLT_NULL / DLT_LOOP): a 4-byte address family, in either byte order.
inline std::string LoopbackFrame(uint32_t family, std::string_view payload,
                                 bool big_endian = false) {
  std::string s;
  if (big_endian) {
    PutBe32(s, family);
  } else {
    PutLe32(s, family);
  }
  s.append(payload);
  return s;
}

// Writes a pcap file through libpcap with nanosecond timestamps.
class PcapFileWriter {
 public:
  PcapFileWriter(const std::string& path, int dlt, int snaplen = 262144)
      : snaplen_(snaplen) {
    dead_ = pcap_open_dead_with_tstamp_precision(dlt, snaplen, PCAP_TSTAMP_PRECISION_NANO);
    if (dead_ == nullptr) throw std::runtime_error("pcap_open_dead failed");
    dumper_ = pcap_dump_open(dead_, path.c_str());
    if (dumper_ == nullptr) throw std::runtime_error(pcap_geterr(dead_));
  }
  ~PcapFileWriter() { Close(); }
  PcapFileWriter(const PcapFileWriter&) = delete;
  PcapFileWriter& operator=(const PcapFileWriter&) = delete;

  // Records `frame`, cut to the snaplen; `wire_len` defaults to the frame's size.
  void Write(int64_t ts_ns, std::string_view frame, int64_t wire_len = -1) {
    pcap_pkthdr h{};
    h.ts.tv_sec = ts_ns / 1'000'000'000;
    h.ts.tv_usec = ts_ns % 1'000'000'000;  // nanoseconds in a nanosecond-precision file
    h.caplen = static_cast<uint32_t>(std::min<size_t>(frame.size(), snaplen_));
    h.len = static_cast<uint32_t>(wire_len >= 0 ? wire_len : static_cast<int64_t>(frame.size()));
    pcap_dump(reinterpret_cast<u_char*>(dumper_), &h,
              reinterpret_cast<const u_char*>(frame.data()));
  }

  void Close() {
    if (dumper_ != nullptr) pcap_dump_close(dumper_);
    if (dead_ != nullptr) pcap_close(dead_);
    dumper_ = nullptr;
    dead_ = nullptr;
  }

 private:
  size_t snaplen_;
  pcap_t* dead_ = nullptr;
  pcap_dumper_t* dumper_ = nullptr;
};

// Builds a pcapng file in memory (libpcap writes no pcapng): sections, interfaces with
// nanosecond timestamps, enhanced and simple packet blocks, in either byte order.
class PcapngBuilder {
 public:
  explicit PcapngBuilder(bool big_endian = false) : big_endian_(big_endian) { Section(); }

  // Starts a new section, whose interfaces are numbered from 0 again.
  void Section() {
    std::string body;
    Put32(body, 0x1A2B3C4D);  // byte-order magic
    Put16(body, 1);           // version 1.0
    Put16(body, 0);
    Put32(body, 0xffffffff);  // section length: unknown
    Put32(body, 0xffffffff);
    Block(0x0A0D0D0A, body);
  }
  // Adds an interface to the current section; libpcap wants the same link type and snaplen
  // for all.
  void Interface(int dlt, uint32_t snaplen = 262144) {
    std::string body;
    Put16(body, static_cast<uint16_t>(dlt));
    Put16(body, 0);
    Put32(body, snaplen);
    Put16(body, 9);  // if_tsresol: 10^-9 s
    Put16(body, 1);
    body += std::string("\x09\0\0\0", 4);
    Put32(body, 0);  // opt_endofopt
    Block(1, body);
  }
  void Packet(uint32_t interface, int64_t ts_ns, std::string_view frame) {
    std::string body;
    Put32(body, interface);
    Put32(body, static_cast<uint32_t>(static_cast<uint64_t>(ts_ns) >> 32));
    Put32(body, static_cast<uint32_t>(ts_ns));
    Put32(body, static_cast<uint32_t>(frame.size()));
    Put32(body, static_cast<uint32_t>(frame.size()));
    body.append(frame);
    Block(6, body);
  }
  // A simple packet block: no timestamp, on the section's first interface.
  void SimplePacket(std::string_view frame) {
    std::string body;
    Put32(body, static_cast<uint32_t>(frame.size()));
    body.append(frame);
    Block(3, body);
  }
  // Any other block, which readers skip.
  void OtherBlock(uint32_t type, size_t body_len) { Block(type, std::string(body_len, '\x5a')); }

  const std::string& bytes() const { return bytes_; }

 private:
  void Put16(std::string& s, uint16_t v) const {
    if (big_endian_) {
      PutBe16(s, v);
    } else {
      s.push_back(static_cast<char>(v));
      s.push_back(static_cast<char>(v >> 8));
    }
  }
  void Put32(std::string& s, uint32_t v) const {
    if (big_endian_) {
      PutBe32(s, v);
    } else {
      PutLe32(s, v);
    }
  }
  void Block(uint32_t type, std::string body) {
    while (body.size() % 4 != 0) body.push_back('\0');
    const uint32_t total = static_cast<uint32_t>(body.size() + 12);
    Put32(bytes_, type);
    Put32(bytes_, total);
    bytes_ += body;
    Put32(bytes_, total);
  }

  bool big_endian_;
  std::string bytes_;
};

inline void WriteBytesToFile(const std::string& path, std::string_view bytes) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot create " + path);
  std::fwrite(bytes.data(), 1, bytes.size(), f);
  std::fclose(f);
}

inline std::string ReadFileBytes(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) throw std::runtime_error("cannot open " + path);
  std::string s;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, n);
  std::fclose(f);
  return s;
}

}  // namespace resptrace::test

#endif  // RESPTRACE_TESTS_PCAP_BUILDER_H_

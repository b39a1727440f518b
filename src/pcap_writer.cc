#include "resptrace/pcap_writer.h"

#include <pcap/pcap.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"

namespace resptrace {
namespace {

// Linux cooked v2: the only link header libpcap writes that carries the interface (for
// telling copies from a second interface, include/resptrace/segment.h) and the direction.
constexpr size_t kSll2Len = 20;
constexpr uint16_t kArphrdNone = 0xFFFE;  // no link-layer header known
constexpr uint8_t kPacketHost = 0;        // received
constexpr uint8_t kPacketOutgoing = 4;
constexpr size_t kIpv4Len = 20;
constexpr size_t kIpv6Len = 40;
constexpr size_t kTcpLen = 20;
// The most TCP payload one IPv4 packet carries (its 16-bit total length covers both headers);
// IPv6 could carry 20 bytes more, one limit for both keeps the split simple.
constexpr uint32_t kMaxTcpPayload = 65535 - kIpv4Len - kTcpLen;
constexpr size_t kMaxFrameLen = kSll2Len + kIpv6Len + kTcpLen + kMaxTcpPayload;
constexpr int kSegmentSnaplen = 262144;

void Put16(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
void Put32(uint8_t* p, uint32_t v) {
  Put16(p, v >> 16);
  Put16(p + 2, v);
}

// The Internet checksum's running sum of 16-bit big-endian words (RFC 1071).
uint32_t SumWords(const uint8_t* p, size_t n, uint32_t sum) {
  for (; n >= 2; p += 2, n -= 2) sum += uint32_t{p[0]} << 8 | p[1];
  if (n == 1) sum += uint32_t{p[0]} << 8;
  return sum;
}
uint16_t FoldChecksum(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

pcap_pkthdr Header(int64_t ts_ns, size_t caplen, uint32_t wire_len) {
  pcap_pkthdr h{};
  h.ts.tv_sec = ts_ns / 1'000'000'000;
  h.ts.tv_usec = ts_ns % 1'000'000'000;  // nanoseconds: the file has nanosecond precision
  h.caplen = static_cast<uint32_t>(caplen);
  h.len = wire_len;
  return h;
}

absl::StatusOr<std::pair<pcap*, pcap_dumper_t*>> OpenDump(const std::string& path, int link_type,
                                                           int snaplen) {
  pcap* dead =
      pcap_open_dead_with_tstamp_precision(link_type, snaplen, PCAP_TSTAMP_PRECISION_NANO);
  if (dead == nullptr) {
    return absl::InternalError(absl::StrCat("cannot write ", path, ": libpcap is out of memory"));
  }
  pcap_dumper_t* dumper = pcap_dump_open(dead, path.c_str());
  if (dumper == nullptr) {
    absl::Status err = absl::FailedPreconditionError(absl::StrCat(
        "cannot write capture file ", path, ": ", pcap_geterr(dead),
        " (check the directory exists and is writable)"));
    pcap_close(dead);
    return err;
  }
  return std::make_pair(dead, dumper);
}

}  // namespace

PcapWriter::PcapWriter(std::string path, pcap* dead, pcap_dumper* dumper)
    : path_(std::move(path)), dead_(dead), dumper_(dumper) {}

PcapWriter::~PcapWriter() {
  if (dumper_ != nullptr) pcap_dump_close(dumper_);
  pcap_close(dead_);
}

absl::StatusOr<std::unique_ptr<PcapWriter>> PcapWriter::ForFrames(const std::string& path,
                                                                  int link_type, int snaplen) {
  auto opened = OpenDump(path, link_type, snaplen);
  if (!opened.ok()) return opened.status();
  return std::unique_ptr<PcapWriter>(new PcapWriter(path, opened->first, opened->second));
}

absl::StatusOr<std::unique_ptr<PcapWriter>> PcapWriter::ForSegments(const std::string& path) {
  auto opened = OpenDump(path, DLT_LINUX_SLL2, kSegmentSnaplen);
  if (!opened.ok()) return opened.status();
  auto writer = std::unique_ptr<PcapWriter>(new PcapWriter(path, opened->first, opened->second));
  writer->frame_ = std::make_unique<uint8_t[]>(kMaxFrameLen);
  return writer;
}

void PcapWriter::WriteFrame(int64_t ts_ns, std::string_view captured, uint32_t wire_len) {
  const pcap_pkthdr h = Header(ts_ns, captured.size(), wire_len);
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h,
            reinterpret_cast<const u_char*>(captured.data()));
  ++frames_;
}

void PcapWriter::WriteSegment(const Segment& seg) {
  constexpr uint8_t kFirstOnly = tcp_flags::kSyn;
  constexpr uint8_t kLastOnly = tcp_flags::kFin | tcp_flags::kPsh | tcp_flags::kRst;
  uint32_t offset = 0;
  do {
    const uint32_t len = std::min(seg.payload_len - offset, kMaxTcpPayload);
    const bool first = offset == 0;
    const bool last = offset + len == seg.payload_len;
    uint8_t flags = seg.flags & ~(kFirstOnly | kLastOnly);
    if (first) flags |= seg.flags & kFirstOnly;
    if (last) flags |= seg.flags & kLastOnly;
    const size_t have = seg.payload.size();
    const std::string_view captured =
        offset >= have ? std::string_view() : seg.payload.substr(offset, len);
    WriteSynthesized(seg, seg.seq + offset, flags, captured, len);
    offset += len;
  } while (offset < seg.payload_len);
}

void PcapWriter::WriteSynthesized(const Segment& seg, uint32_t seq, uint8_t flags,
                                  std::string_view payload, uint32_t payload_len) {
  uint8_t* f = frame_.get();
  const bool v6 = seg.flow.src.addr.is_v6;
  const size_t ip_len = v6 ? kIpv6Len : kIpv4Len;
  std::memset(f, 0, kSll2Len + ip_len + kTcpLen);
  Put16(f, v6 ? 0x86dd : 0x0800);  // which IP follows
  Put32(f + 4, seg.ifindex);
  Put16(f + 8, kArphrdNone);
  f[10] = seg.outgoing ? kPacketOutgoing : kPacketHost;
  // No link-layer address: its length, f[11], stays 0.
  uint8_t* ip = f + kSll2Len;
  uint8_t* tcp = ip + ip_len;
  const uint32_t tcp_len = kTcpLen + payload_len;
  uint32_t pseudo_sum;
  if (v6) {
    ip[0] = 0x60;
    Put16(ip + 4, tcp_len);
    ip[6] = 6;  // next header: TCP
    ip[7] = 64;
    std::memcpy(ip + 8, seg.flow.src.addr.bytes.data(), 16);
    std::memcpy(ip + 24, seg.flow.dst.addr.bytes.data(), 16);
    pseudo_sum = SumWords(ip + 8, 32, 0) + tcp_len + 6;
  } else {
    ip[0] = 0x45;
    Put16(ip + 2, kIpv4Len + tcp_len);
    ip[6] = 0x40;  // don't fragment
    ip[8] = 64;
    ip[9] = 6;  // protocol: TCP
    std::memcpy(ip + 12, seg.flow.src.addr.bytes.data(), 4);
    std::memcpy(ip + 16, seg.flow.dst.addr.bytes.data(), 4);
    Put16(ip + 10, FoldChecksum(SumWords(ip, kIpv4Len, 0)));
    pseudo_sum = SumWords(ip + 12, 8, 0) + tcp_len + 6;
  }
  Put16(tcp, seg.flow.src.port);
  Put16(tcp + 2, seg.flow.dst.port);
  Put32(tcp + 4, seq);
  Put32(tcp + 8, seg.ack);
  tcp[12] = (kTcpLen / 4) << 4;
  tcp[13] = flags;
  Put16(tcp + 14, 65535);  // window: unknown, any value reads back the same
  if (!payload.empty()) std::memcpy(tcp + kTcpLen, payload.data(), payload.size());
  // The checksum needs every byte; a segment with bytes missing keeps 0 there.
  if (payload.size() == payload_len) {
    Put16(tcp + 16, FoldChecksum(SumWords(tcp, tcp_len, pseudo_sum)));
  }
  const size_t headers = kSll2Len + ip_len + kTcpLen;
  WriteFrame(seg.ts_ns,
             std::string_view(reinterpret_cast<const char*>(f), headers + payload.size()),
             static_cast<uint32_t>(headers + payload_len));
}

absl::Status PcapWriter::Flush() {
  if (pcap_dump_flush(dumper_) != 0 || std::ferror(pcap_dump_file(dumper_))) {
    return absl::DataLossError(absl::StrCat("writing capture file ", path_,
                                            " failed: ", std::strerror(errno),
                                            " (frames were lost; is the disk full?)"));
  }
  return absl::OkStatus();
}

absl::Status PcapWriter::Close() {
  absl::Status flushed = Flush();
  pcap_dump_close(dumper_);
  dumper_ = nullptr;
  return flushed;
}

}  // namespace resptrace

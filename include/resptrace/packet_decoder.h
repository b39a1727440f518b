// Turns one captured frame into a TCP Segment: link layer, IPv4/IPv6, TCP.
#ifndef RESPTRACE_PACKET_DECODER_H_
#define RESPTRACE_PACKET_DECODER_H_

#include <cstdint>
#include <string_view>

#include "absl/status/statusor.h"
#include "resptrace/segment.h"

namespace resptrace {

// Why a frame did not yield a segment. Each outcome is counted by the caller.
enum class DecodeResult : uint8_t {
  kTcp,           // `out` holds a TCP segment
  kNotIp,         // ARP, LLDP, ... : not our business
  kNotTcp,        // UDP, ICMP, ...
  kFragment,      // IP fragment: not reassembled, counted
  kTruncated,     // cut before the end of the TCP header
  kMalformed,     // inconsistent headers (bad IHL, bad data offset, ...)
};

// Decoder for one link type (a pcap DLT_* value).
class PacketDecoder {
 public:
  // Fails for link types resptrace cannot read, naming the type.
  static absl::StatusOr<PacketDecoder> ForLinkType(int dlt);

  // `frame` is the captured bytes, `wire_len` the frame length on the wire.
  // On kTcp, `out.payload` points into `frame`; ts_ns is left to the caller.
  DecodeResult Decode(std::string_view frame, uint32_t wire_len, Segment& out) const;

  int link_type() const { return dlt_; }

 private:
  // How the link header is framed; several DLT values share one framing.
  enum class Framing : uint8_t { kEthernet, kSll, kSll2, kLoopback, kRawIp, kIpv4, kIpv6 };

  PacketDecoder(int dlt, Framing framing) : dlt_(dlt), framing_(framing) {}
  int dlt_;
  Framing framing_;
};

const char* DecodeResultName(DecodeResult r);

}  // namespace resptrace

#endif  // RESPTRACE_PACKET_DECODER_H_

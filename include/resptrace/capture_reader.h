// Reads pcap and pcapng files (or stdin) through libpcap and yields TCP segments.
#ifndef RESPTRACE_CAPTURE_READER_H_
#define RESPTRACE_CAPTURE_READER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "resptrace/packet_decoder.h"
#include "resptrace/pcapng_interfaces.h"
#include "resptrace/segment.h"

struct pcap;

namespace resptrace {

struct CaptureCounters {
  uint64_t packets = 0;        // frames read from the file
  uint64_t tcp_segments = 0;   // frames that decoded to a TCP segment
  uint64_t not_ip = 0;
  uint64_t not_tcp = 0;
  uint64_t ip_fragments = 0;
  uint64_t truncated_headers = 0;  // frame cut before the TCP header ended
  uint64_t malformed = 0;
  uint64_t snaplen_cut = 0;        // segments whose payload was cut by the snaplen
};

// Counts one decoded frame in `c`; true when it is a TCP segment to hand on.
bool CountDecoded(CaptureCounters& c, DecodeResult r, const Segment& s);

class CaptureReader {
 public:
  // `path` is a pcap or pcapng file, or "-" for standard input.
  static absl::StatusOr<std::unique_ptr<CaptureReader>> Open(const std::string& path);
  ~CaptureReader();
  CaptureReader(const CaptureReader&) = delete;
  CaptureReader& operator=(const CaptureReader&) = delete;

  // Calls `on_segment` for every TCP segment, in file order, until the end of the file. A
  // segment's ifindex is its Linux cooked v2 frame's, or its pcapng interface number + 1.
  // The segment's payload is valid only during the call. Returns OK at a clean end of
  // file; on a corrupt or truncated file, an error naming the file and the damage, after
  // every segment before the damage was delivered.
  absl::Status ReadAll(const std::function<void(const Segment&)>& on_segment);

  const CaptureCounters& counters() const { return counters_; }
  int link_type() const { return decoder_.link_type(); }

 private:
  CaptureReader(std::string path, pcap* handle, PacketDecoder decoder,
                std::unique_ptr<PcapngInterfaces> interfaces);
  std::string path_;
  pcap* handle_;
  PacketDecoder decoder_;
  // Fed by the handle's reads: closing the handle ends them.
  std::unique_ptr<PcapngInterfaces> interfaces_;
  CaptureCounters counters_;
};

}  // namespace resptrace

#endif  // RESPTRACE_CAPTURE_READER_H_

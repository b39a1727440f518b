// Writes what was captured to a pcap file (nanosecond timestamps) that resptrace -r, tcpdump
// and tshark read back.
#ifndef RESPTRACE_PCAP_WRITER_H_
#define RESPTRACE_PCAP_WRITER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "resptrace/segment.h"

struct pcap;
struct pcap_dumper;

namespace resptrace {

class PcapWriter {
 public:
  // For sources that have whole frames of one link type (a libpcap handle): writes them as
  // they are.
  static absl::StatusOr<std::unique_ptr<PcapWriter>> ForFrames(const std::string& path,
                                                               int link_type, int snaplen);
  // For sources that only have segments (eBPF, a file read with -r): writes each one as a
  // synthesized Linux cooked v2 + IPv4/IPv6 + TCP frame, which keeps the segment's interface
  // and direction.
  static absl::StatusOr<std::unique_ptr<PcapWriter>> ForSegments(const std::string& path);
  ~PcapWriter();  // closes the file; call Close() first to learn whether writing failed
  PcapWriter(const PcapWriter&) = delete;
  PcapWriter& operator=(const PcapWriter&) = delete;

  // `captured` is the frame's captured bytes, `wire_len` its length on the wire.
  void WriteFrame(int64_t ts_ns, std::string_view captured, uint32_t wire_len);
  // A segment whose payload is larger than one IP packet can carry (GSO seen by eBPF) is
  // split into several frames with consecutive sequence numbers; only the last one keeps FIN
  // and PSH. Bytes the segment lacks (payload shorter than payload_len) stay missing.
  // Only valid on a writer made with ForSegments.
  void WriteSegment(const Segment& seg);

  // Pushes what is buffered to the file; fails once any write failed.
  absl::Status Flush();
  // Flushes and closes the file.
  absl::Status Close();

  // True for a writer made with ForSegments.
  bool saves_segments() const { return frame_ != nullptr; }
  const std::string& path() const { return path_; }
  uint64_t frames() const { return frames_; }

 private:
  PcapWriter(std::string path, pcap* dead, pcap_dumper* dumper);
  // Writes one synthesized frame carrying `payload` (captured) of `payload_len` bytes.
  void WriteSynthesized(const Segment& seg, uint32_t seq, uint8_t flags, std::string_view payload,
                        uint32_t payload_len);

  std::string path_;
  pcap* dead_;
  pcap_dumper* dumper_;
  uint64_t frames_ = 0;
  std::unique_ptr<uint8_t[]> frame_;  // scratch for synthesized frames
};

}  // namespace resptrace

#endif  // RESPTRACE_PCAP_WRITER_H_

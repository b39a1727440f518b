#include "resptrace/capture_reader.h"

#include <pcap/pcap.h>

#include <cerrno>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"

namespace resptrace {

CaptureReader::CaptureReader(std::string path, pcap* handle, PacketDecoder decoder)
    : path_(std::move(path)), handle_(handle), decoder_(decoder) {}

CaptureReader::~CaptureReader() { pcap_close(handle_); }

bool CountDecoded(CaptureCounters& c, DecodeResult r, const Segment& s) {
  switch (r) {
    case DecodeResult::kTcp:
      ++c.tcp_segments;
      if (s.payload.size() < s.payload_len) ++c.snaplen_cut;
      return true;
    case DecodeResult::kNotIp: ++c.not_ip; break;
    case DecodeResult::kNotTcp: ++c.not_tcp; break;
    case DecodeResult::kFragment: ++c.ip_fragments; break;
    case DecodeResult::kTruncated: ++c.truncated_headers; break;
    case DecodeResult::kMalformed: ++c.malformed; break;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<CaptureReader>> CaptureReader::Open(const std::string& path) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  errno = 0;
  // Nanosecond precision: libpcap scales microsecond files up, so one unit fits all.
  pcap* handle =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (handle == nullptr) {
    if (errno == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("cannot read capture ", path, ": ", errbuf, " (check the path)"));
    }
    return absl::InvalidArgumentError(absl::StrCat("cannot read capture ", path, ": ", errbuf,
                                                   " (is it a pcap or pcapng file?)"));
  }
  absl::StatusOr<PacketDecoder> decoder = PacketDecoder::ForLinkType(pcap_datalink(handle));
  if (!decoder.ok()) {
    pcap_close(handle);
    return absl::Status(decoder.status().code(),
                        absl::StrCat("cannot read capture ", path, ": ",
                                     decoder.status().message()));
  }
  return std::unique_ptr<CaptureReader>(new CaptureReader(path, handle, *decoder));
}

absl::Status CaptureReader::ReadAll(const std::function<void(const Segment&)>& on_segment) {
  pcap_pkthdr* header;
  const u_char* data;
  Segment segment;
  int rc;
  while ((rc = pcap_next_ex(handle_, &header, &data)) == 1) {
    ++counters_.packets;
    const std::string_view frame(reinterpret_cast<const char*>(data), header->caplen);
    if (CountDecoded(counters_, decoder_.Decode(frame, header->len, segment), segment)) {
      // With nanosecond precision tv_usec holds nanoseconds.
      segment.ts_ns = int64_t{header->ts.tv_sec} * 1'000'000'000 + header->ts.tv_usec;
      on_segment(segment);
    }
  }
  if (rc == PCAP_ERROR_BREAK) return absl::OkStatus();  // clean end of file
  return absl::DataLossError(absl::StrCat(
      "capture ", path_, " is damaged at frame ", counters_.packets + 1, " (after ",
      counters_.packets, " good frames): ", pcap_geterr(handle_),
      "; the frames before it were processed"));
}

}  // namespace resptrace

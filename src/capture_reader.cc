#include "resptrace/capture_reader.h"

#include <fcntl.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"

namespace resptrace {

CaptureReader::CaptureReader(std::string path, pcap* handle, PacketDecoder decoder,
                             std::unique_ptr<PcapngInterfaces> interfaces)
    : path_(std::move(path)),
      handle_(handle),
      decoder_(decoder),
      interfaces_(std::move(interfaces)) {}

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

namespace {

// A frame's capture time. With nanosecond precision tv_usec holds nanoseconds. pcapng's
// 64-bit timestamps reach past what int64 nanoseconds hold (the year 2262): such a time, or
// one before 1970, is out of any real capture and is clamped to [0, 2^62 ns] (the year 2116,
// past classic pcap's last second), where differences between times cannot overflow.
int64_t FrameTimeNs(const timeval& ts) {
  constexpr int64_t kMaxNs = int64_t{1} << 62;
  if (ts.tv_sec < 0) return 0;
  if (ts.tv_sec >= kMaxNs / 1'000'000'000) return kMaxNs;
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_usec;
}

// The capture file as libpcap reads it, every byte also shown to a PcapngInterfaces.
struct ObservedInput {
  int fd;
  bool owns_fd;  // false for standard input
  PcapngInterfaces* interfaces;
};

ssize_t ReadObserved(void* cookie, char* buf, size_t size) {
  auto* in = static_cast<ObservedInput*>(cookie);
  ssize_t n;
  do {
    n = read(in->fd, buf, size);
  } while (n < 0 && errno == EINTR);
  if (n > 0) in->interfaces->Observe(buf, static_cast<size_t>(n));
  return n;
}

int CloseObserved(void* cookie) {
  auto* in = static_cast<ObservedInput*>(cookie);
  const int rc = in->owns_fd ? close(in->fd) : 0;
  delete in;
  return rc;
}

}  // namespace

absl::StatusOr<std::unique_ptr<CaptureReader>> CaptureReader::Open(const std::string& path) {
  const bool standard_input = path == "-";
  const int fd = standard_input ? STDIN_FILENO : open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    const int err = errno;
    // Worded as libpcap words it when it opens the file itself.
    const std::string why = absl::StrCat(path, ": ", std::strerror(err));
    if (err == ENOENT) {
      return absl::NotFoundError(
          absl::StrCat("cannot read capture ", path, ": ", why, " (check the path)"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read capture ", path, ": ", why, " (is it a pcap or pcapng file?)"));
  }
  auto interfaces = std::make_unique<PcapngInterfaces>();
  auto input =
      std::make_unique<ObservedInput>(ObservedInput{fd, !standard_input, interfaces.get()});
  FILE* file = fopencookie(input.get(), "rb",
                           cookie_io_functions_t{ReadObserved, nullptr, nullptr, CloseObserved});
  if (file == nullptr) {
    const std::string why = std::strerror(errno);
    if (!standard_input) close(fd);
    return absl::InternalError(absl::StrCat("cannot read capture ", path, ": ", why));
  }
  input.release();  // the stream's to delete, in CloseObserved
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  // Nanosecond precision: libpcap scales microsecond files up, so one unit fits all.
  pcap* handle = pcap_fopen_offline_with_tstamp_precision(file, PCAP_TSTAMP_PRECISION_NANO, errbuf);
  if (handle == nullptr) {
    std::fclose(file);
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
  return std::unique_ptr<CaptureReader>(
      new CaptureReader(path, handle, *decoder, std::move(interfaces)));
}

absl::Status CaptureReader::ReadAll(const std::function<void(const Segment&)>& on_segment) {
  pcap_pkthdr* header;
  const u_char* data;
  Segment segment;
  int rc;
  while ((rc = pcap_next_ex(handle_, &header, &data)) == 1) {
    ++counters_.packets;
    const std::string_view frame(reinterpret_cast<const char*>(data), header->caplen);
    // Taken for every packet, decoded or not, to stay in step with the file's packet blocks.
    const std::optional<uint32_t> pcapng_interface = interfaces_->TakeNext();
    if (CountDecoded(counters_, decoder_.Decode(frame, header->len, segment), segment)) {
      segment.ts_ns = FrameTimeNs(header->ts);
      // The frame's own interface (Linux cooked v2) is the capturing host's; a pcapng
      // interface number counts from 0, and 0 means unknown here.
      if (segment.ifindex == 0 && pcapng_interface.has_value()) {
        segment.ifindex = *pcapng_interface + 1;
      }
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

// Input: a capture file, as `resptrace -r` reads it.
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <string>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "fuzz_harness.h"
#include "record_checker.h"
#include "resptrace/capture_reader.h"
#include "resptrace/collector.h"

namespace resptrace {

absl::Status FuzzCaptureReader(std::string_view input) {
  // CaptureReader opens a path: an in-memory file has one under /proc.
  const int fd = memfd_create("capture", MFD_CLOEXEC);
  if (fd < 0) return absl::InternalError("memfd_create failed");
  const absl::Cleanup close_fd = [fd] { close(fd); };
  for (size_t done = 0; done < input.size();) {
    const ssize_t n = write(fd, input.data() + done, input.size() - done);
    if (n <= 0) return absl::InternalError("writing the capture to memory failed");
    done += static_cast<size_t>(n);
  }
  absl::StatusOr<std::unique_ptr<CaptureReader>> reader =
      CaptureReader::Open(absl::StrCat("/proc/self/fd/", fd));
  if (!reader.ok()) return absl::OkStatus();  // not a capture: refused, as it should be
  CollectorOptions options;
  // The public captures' server ports.
  options.server_ports = {6379, 6380, 6381, 7000};
  // A capture's timestamps may go back: latencies may be negative.
  RecordChecker sink(Redaction::kSecrets, /*ordered_ts=*/false);
  Collector collector(options, &sink);
  uint64_t captured = 0;
  const absl::Status read = (*reader)->ReadAll([&](const Segment& seg) {
    // (payload_len may exceed the frame's wire_len: the decoder believes the IP header's
    // length over the file's, whose writer may have put the captured length there.)
    if (seg.payload.size() > seg.payload_len) {
      sink.Fail(absl::StrCat("a segment of ", seg.payload.size(), " captured bytes of ",
                             seg.payload_len, " on the wire"));
    }
    captured += seg.payload.size();
    collector.OnSegment(seg);
  });
  // A damaged file is reported as such, after the frames before the damage.
  if (!read.ok() && read.code() != absl::StatusCode::kDataLoss) {
    sink.Fail(absl::StrCat("reading failed with ", read.ToString()));
  }
  collector.Finish();
  const CaptureCounters& c = (*reader)->counters();
  const CollectorCounters& cc = collector.counters();
  if (c.tcp_segments > c.packets || cc.segments != c.tcp_segments ||
      cc.reassembly.bytes_delivered > captured) {
    sink.Fail(absl::StrCat(c.packets, " frames, ", c.tcp_segments, " segments, ", cc.segments,
                           " collected, ", cc.reassembly.bytes_delivered, " bytes delivered of ",
                           captured));
  }
  return sink.Finish();
}

}  // namespace resptrace

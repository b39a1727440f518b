#include "resptrace/live_capture.h"

#include <poll.h>
#include <pcap/pcap.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <string_view>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "resptrace/pcap_writer.h"

namespace resptrace {
namespace {

// Frames handled per pcap_dispatch call, so that ticks still come under a flood.
constexpr int kFramesPerDispatch = 4096;

int64_t WallClockNs() {
  timespec t;
  clock_gettime(CLOCK_REALTIME, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

std::string Filter(const std::vector<uint16_t>& ports) {
  return absl::StrJoin(ports, " or ", [](std::string* out, uint16_t p) {
    absl::StrAppend(out, "tcp port ", p);
  });
}

// The error pcap_activate gave, with what to do about it.
absl::Status ActivateError(const std::string& iface, int rc, pcap* handle) {
  const std::string detail = pcap_geterr(handle);
  const std::string what = absl::StrCat("cannot capture on interface ", iface, ": ");
  switch (rc) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
      return absl::NotFoundError(absl::StrCat(what, "no such interface (", detail,
                                              "); list them with `ip link`"));
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
      return absl::PermissionDeniedError(absl::StrCat(
          what, "permission denied (", detail,
          "): capturing needs the capabilities CAP_NET_RAW and CAP_NET_ADMIN; run as root or "
          "grant them with `sudo setcap cap_net_raw,cap_net_admin=eip $(command -v resptrace)`"));
    case PCAP_ERROR_IFACE_NOT_UP:
      return absl::FailedPreconditionError(
          absl::StrCat(what, "the interface is down; bring it up with `ip link set ", iface, " up`"));
    default:
      return absl::UnavailableError(absl::StrCat(what, pcap_statustostr(rc),
                                                 detail.empty() ? "" : ": ", detail));
  }
}

}  // namespace

LiveCapture::LiveCapture(std::string interface, pcap* handle, PacketDecoder decoder, bool nano,
                         int stop_fd)
    : interface_(std::move(interface)),
      handle_(handle),
      decoder_(decoder),
      nano_(nano),
      stop_fd_(stop_fd) {}

LiveCapture::~LiveCapture() {
  pcap_close(handle_);
  close(stop_fd_);
}

absl::StatusOr<std::unique_ptr<LiveCapture>> LiveCapture::Open(const LiveCaptureOptions& o) {
  char errbuf[PCAP_ERRBUF_SIZE] = {};
  pcap* handle = pcap_create(o.interface.c_str(), errbuf);
  if (handle == nullptr) {
    return absl::UnavailableError(
        absl::StrCat("cannot capture on interface ", o.interface, ": ", errbuf));
  }
  // Any failure below closes the handle.
  auto fail = [handle](absl::Status s) {
    pcap_close(handle);
    return s;
  };
  pcap_set_snaplen(handle, o.snaplen);
  // Immediate mode: each packet is handed over as it comes, so records show up promptly.
  pcap_set_immediate_mode(handle, 1);
  pcap_set_buffer_size(handle, o.buffer_bytes);
  // Nanoseconds when the kernel gives them; checked after activation.
  pcap_set_tstamp_precision(handle, PCAP_TSTAMP_PRECISION_NANO);
  const int rc = pcap_activate(handle);
  if (rc < 0) return fail(ActivateError(o.interface, rc, handle));
  // On "any", cooked v2 headers name each frame's interface, which tells a segment captured
  // on two interfaces (a bridge, then a container's veth) from a retransmission. libpcap
  // starts with v1; one too old for v2 leaves it, and copies count as retransmissions.
  if (pcap_datalink(handle) == DLT_LINUX_SLL) pcap_set_datalink(handle, DLT_LINUX_SLL2);

  absl::StatusOr<PacketDecoder> decoder = PacketDecoder::ForLinkType(pcap_datalink(handle));
  if (!decoder.ok()) {
    return fail(absl::Status(decoder.status().code(),
                             absl::StrCat("cannot capture on interface ", o.interface, ": ",
                                          decoder.status().message())));
  }
  if (!o.server_ports.empty()) {
    const std::string filter = Filter(o.server_ports);
    bpf_program program;
    if (pcap_compile(handle, &program, filter.c_str(), /*optimize=*/1, PCAP_NETMASK_UNKNOWN) != 0) {
      return fail(absl::InternalError(absl::StrCat("cannot compile the capture filter '", filter,
                                                   "': ", pcap_geterr(handle))));
    }
    const int set = pcap_setfilter(handle, &program);
    pcap_freecode(&program);
    if (set != 0) {
      return fail(absl::UnavailableError(absl::StrCat("cannot install the capture filter on ",
                                                      o.interface, ": ", pcap_geterr(handle))));
    }
  }
  // Run() polls the handle's descriptor itself, together with the stop event and the tick.
  if (pcap_setnonblock(handle, 1, errbuf) != 0) {
    return fail(absl::InternalError(
        absl::StrCat("cannot make the capture on ", o.interface, " non-blocking: ", errbuf)));
  }
  const int stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (stop_fd < 0) {
    return fail(absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno))));
  }
  const bool nano = pcap_get_tstamp_precision(handle) == PCAP_TSTAMP_PRECISION_NANO;
  return std::unique_ptr<LiveCapture>(
      new LiveCapture(o.interface, handle, *decoder, nano, stop_fd));
}

int LiveCapture::snaplen() const { return pcap_snapshot(handle_); }

void LiveCapture::Stop() {
  stopping_.store(true, std::memory_order_relaxed);
  const uint64_t one = 1;
  // A full counter (never, at one write per signal) would only mean Run() is already awake.
  [[maybe_unused]] const ssize_t n = write(stop_fd_, &one, sizeof one);
  pcap_breakloop(handle_);
}

void LiveCapture::OnFrame(const pcap_pkthdr& header, const uint8_t* data) {
  ++counters_.packets;
  const int64_t ts_ns = int64_t{header.ts.tv_sec} * 1'000'000'000 +
                        int64_t{header.ts.tv_usec} * (nano_ ? 1 : 1000);
  const std::string_view frame(reinterpret_cast<const char*>(data), header.caplen);
  if (frame_writer_ != nullptr) frame_writer_->WriteFrame(ts_ns, frame, header.len);
  if (CountDecoded(counters_, decoder_.Decode(frame, header.len, segment_), segment_)) {
    segment_.ts_ns = ts_ns;
    (*on_segment_)(segment_);
  }
}

absl::Status LiveCapture::Run(const std::function<void(const Segment&)>& on_segment,
                              const std::function<void(int64_t now_ns)>& on_tick, int tick_ms) {
  on_segment_ = &on_segment;
  const int64_t tick_ns = int64_t{tick_ms} * 1'000'000;
  int64_t next_tick_ns = WallClockNs() + tick_ns;
  pollfd fds[2] = {{pcap_get_selectable_fd(handle_), POLLIN, 0}, {stop_fd_, POLLIN, 0}};
  while (!stopping_.load(std::memory_order_relaxed)) {
    const int64_t wait_ns = next_tick_ns - WallClockNs();
    const int wait_ms = wait_ns <= 0 ? 0 : static_cast<int>((wait_ns + 999'999) / 1'000'000);
    const int ready = poll(fds, 2, wait_ms);
    if (ready < 0 && errno != EINTR) {
      return absl::InternalError(absl::StrCat("capture on ", interface_, ": poll failed: ",
                                              std::strerror(errno)));
    }
    if (ready > 0 && fds[0].revents != 0) {
      // Also on POLLERR: pcap_dispatch then reports what went wrong (interface gone, ...).
      const int n = pcap_dispatch(
          handle_, kFramesPerDispatch,
          [](u_char* self, const pcap_pkthdr* h, const u_char* bytes) {
            reinterpret_cast<LiveCapture*>(self)->OnFrame(*h, bytes);
          },
          reinterpret_cast<u_char*>(this));
      if (n == PCAP_ERROR) {
        return absl::UnavailableError(absl::StrCat("capture on ", interface_,
                                                   " failed: ", pcap_geterr(handle_)));
      }
    }
    const int64_t now_ns = WallClockNs();
    if (now_ns >= next_tick_ns) {
      on_tick(now_ns);
      next_tick_ns = now_ns + tick_ns;
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<KernelDrops> LiveCapture::Drops() const {
  pcap_stat st{};
  if (pcap_stats(handle_, &st) != 0) {
    return absl::UnavailableError(absl::StrCat("no drop counts for ", interface_, ": ",
                                               pcap_geterr(handle_)));
  }
  return KernelDrops{st.ps_drop, st.ps_ifdrop};
}

}  // namespace resptrace

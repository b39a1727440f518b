// Captures TCP segments live from a network interface through libpcap.
#ifndef RESPTRACE_LIVE_CAPTURE_H_
#define RESPTRACE_LIVE_CAPTURE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "resptrace/capture_reader.h"
#include "resptrace/packet_decoder.h"
#include "resptrace/segment.h"

struct pcap;
struct pcap_pkthdr;

namespace resptrace {

class PcapWriter;

struct LiveCaptureOptions {
  std::string interface = "any";      // "any" captures on every interface (Linux cooked v2 headers)
  std::vector<uint16_t> server_ports;  // only TCP to or from these ports is captured
  int snaplen = 262144;                // loopback frames reach 64 KiB, GSO ones more
  // The kernel ring. In immediate mode each slot holds a whole frame of up to the link's MTU,
  // so loopback's 64 KiB frames need far more than libpcap's 2 MiB default.
  int buffer_bytes = 64 << 20;
};

// What the kernel reported at the end, from pcap_stats.
struct KernelDrops {
  uint64_t by_kernel = 0;     // the ring was full: these packets never reached resptrace
  uint64_t by_interface = 0;  // dropped by the driver or interface
};

class LiveCapture {
 public:
  // Opens and activates the interface, installs the port filter. Fails naming the interface
  // and the cause: no such interface, missing CAP_NET_RAW / CAP_NET_ADMIN, unsupported link.
  static absl::StatusOr<std::unique_ptr<LiveCapture>> Open(const LiveCaptureOptions& options);
  ~LiveCapture();
  LiveCapture(const LiveCapture&) = delete;
  LiveCapture& operator=(const LiveCapture&) = delete;

  // Delivers every captured TCP segment to `on_segment` (payload valid during the call only)
  // and calls `on_tick` with the wall-clock time in nanoseconds about every `tick_ms`, packets
  // or not, until Stop(). With a writer set, every captured frame is written to it first.
  // Returns OK when stopped, an error when the capture fails (interface gone, ...).
  absl::Status Run(const std::function<void(const Segment&)>& on_segment,
                   const std::function<void(int64_t now_ns)>& on_tick, int tick_ms = 100);

  // Makes Run() return after the frame it is handling. Async-signal-safe: callable from a
  // signal handler or from the callbacks.
  void Stop();

  // Raw frames go to `writer` (made with PcapWriter::ForFrames(link_type(), snaplen())).
  void WriteFramesTo(PcapWriter* writer) { frame_writer_ = writer; }

  const std::string& interface() const { return interface_; }
  int link_type() const { return decoder_.link_type(); }
  int snaplen() const;
  const CaptureCounters& counters() const { return counters_; }
  // The kernel's drop counts so far; an error when libpcap cannot tell.
  absl::StatusOr<KernelDrops> Drops() const;

 private:
  LiveCapture(std::string interface, pcap* handle, PacketDecoder decoder, bool nano, int stop_fd);
  void OnFrame(const pcap_pkthdr& header, const uint8_t* data);

  std::string interface_;
  pcap* handle_;
  PacketDecoder decoder_;
  bool nano_;    // the handle's timestamps are in nanoseconds (else microseconds)
  int stop_fd_;  // an eventfd that wakes Run() when Stop() is called
  std::atomic<bool> stopping_{false};
  static_assert(std::atomic<bool>::is_always_lock_free, "Stop() must be async-signal-safe");
  const std::function<void(const Segment&)>* on_segment_ = nullptr;
  PcapWriter* frame_writer_ = nullptr;
  Segment segment_;
  CaptureCounters counters_;
};

}  // namespace resptrace

#endif  // RESPTRACE_LIVE_CAPTURE_H_

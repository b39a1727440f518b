// Live capture through the eBPF programs (bpf/resptrace.bpf.c): loads them, attaches them to
// the chosen interfaces (and to interfaces that come up later with "any"), and turns the
// ring buffer's records into Segments.
#ifndef RESPTRACE_BPF_CAPTURE_H_
#define RESPTRACE_BPF_CAPTURE_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "resptrace/bpf_event.h"
#include "resptrace/bpf_event_decoder.h"
#include "resptrace/bpf_ring_set.h"
#include "resptrace/interface_watcher.h"
#include "resptrace/segment.h"
#include "resptrace/tc_attachment.h"

struct resptrace_bpf;
struct bpf_link;

namespace resptrace {

enum class BpfHook {
  kTc,   // TC ingress and egress (on loopback egress only: each packet passes both)
  kXdp,  // XDP at ingress, TC at egress (XDP sees no outgoing packet; on loopback XDP only)
};

inline constexpr uint32_t kMinRingBytesPerCpu = 512u << 10;

struct BpfCaptureOptions {
  std::string interface = "any";  // "any": every interface that is up, and later ones
  std::vector<uint16_t> server_ports;
  BpfHook hook = BpfHook::kTc;
  uint32_t snaplen = RESPTRACE_BPF_SNAPLEN_DEFAULT;  // payload bytes per segment
  // The ring buffers' total, split among the online CPUs: each CPU's ring is a power of two
  // of at least kMinRingBytesPerCpu.
  uint32_t ring_bytes = 8u << 20;
};

// The kernel side's counters summed over CPUs, and the decoder's.
struct BpfCaptureCounters {
  uint64_t kernel[RESPTRACE_BPF_CTR_COUNT] = {};
  BpfDecodeCounters decode;
  uint64_t attached_hooks = 0;
};

class BpfCapture {
 public:
  // Fails naming what is missing: privileges (CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN), BTF, an
  // interface that does not exist.
  static absl::StatusOr<std::unique_ptr<BpfCapture>> Open(const BpfCaptureOptions& options);
  ~BpfCapture();
  BpfCapture(const BpfCapture&) = delete;
  BpfCapture& operator=(const BpfCapture&) = delete;

  // As LiveCapture::Run: segments to `on_segment`, `on_tick` about every `tick_ms`, until Stop().
  absl::Status Run(const std::function<void(const Segment&)>& on_segment,
                   const std::function<void(int64_t now_ns)>& on_tick, int tick_ms = 100);
  // Async-signal-safe.
  void Stop();

  BpfCaptureCounters Counters() const;
  // "lo: tcx egress; eth0: tcx ingress, tcx egress".
  std::string Describe() const;

 private:
  explicit BpfCapture(const BpfCaptureOptions& options);
  absl::Status AttachTo(const NetInterface& i);
  // Hands the records committed before now to `on_segment`.
  void Drain(const std::function<void(const Segment&)>& on_segment);

  BpfCaptureOptions options_;
  resptrace_bpf* skel_ = nullptr;
  std::unique_ptr<BpfRingSet> rings_;
  int stop_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::vector<std::unique_ptr<TcAttachment>> tc_;
  std::vector<bpf_link*> xdp_;
  std::vector<std::string> attached_;  // for Describe()
  std::vector<int> attached_ifindex_;
  std::unique_ptr<InterfaceWatcher> watcher_;
  BpfEventDecoder decoder_;
};

}  // namespace resptrace

#endif  // RESPTRACE_BPF_CAPTURE_H_

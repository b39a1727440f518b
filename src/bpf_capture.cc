#include "resptrace/bpf_capture.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "resptrace.skel.h"

namespace resptrace {
namespace {

bool IsLoopback(const std::string& name) {
  const int sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return name == "lo";
  ifreq req{};
  std::strncpy(req.ifr_name, name.c_str(), IFNAMSIZ - 1);
  const bool lo = ioctl(sock, SIOCGIFFLAGS, &req) == 0 && (req.ifr_flags & IFF_LOOPBACK) != 0;
  close(sock);
  return lo;
}

absl::Status LoadError(int err) {
  err = err < 0 ? -err : err;
  if (err == EPERM || err == EACCES) {
    return absl::PermissionDeniedError(
        "cannot load the eBPF program: missing privileges (needs CAP_BPF, CAP_PERFMON and "
        "CAP_NET_ADMIN, or root); --backend pcap needs only CAP_NET_RAW");
  }
  return absl::UnavailableError(absl::StrCat(
      "cannot load the eBPF program: ", std::strerror(err),
      " (needs a kernel with BTF at /sys/kernel/btf/vmlinux; --backend pcap works without)"));
}

// Sets the kept ports in the program's bitmap (see RESPTRACE_BPF_PORT_WORDS).
absl::Status SetPorts(int map_fd, const std::vector<uint16_t>& ports) {
  std::vector<uint64_t> words(RESPTRACE_BPF_PORT_WORDS);
  for (uint16_t p : ports) words[p / 64] |= uint64_t{1} << (p % 64);
  for (uint32_t k = 0; k < words.size(); ++k) {
    if (words[k] == 0) continue;
    if (bpf_map_update_elem(map_fd, &k, &words[k], BPF_ANY) != 0) {
      return absl::InternalError(
          absl::StrCat("cannot set the ports to trace in the eBPF map: ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

int64_t NowNs(clockid_t clock = CLOCK_REALTIME) {
  timespec t{};
  clock_gettime(clock, &t);
  return static_cast<int64_t>(t.tv_sec) * 1'000'000'000 + t.tv_nsec;
}

}  // namespace

BpfCapture::BpfCapture(const BpfCaptureOptions& options)
    : options_(options), decoder_(BpfEventDecoder::MonotonicToEpochNow()) {}

BpfCapture::~BpfCapture() {
  // Detach before the programs go: nothing must run a program that is being freed.
  tc_.clear();
  for (bpf_link* l : xdp_) bpf_link__destroy(l);
  rings_.reset();
  if (skel_ != nullptr) resptrace_bpf__destroy(skel_);
  if (stop_fd_ >= 0) close(stop_fd_);
}

absl::StatusOr<std::unique_ptr<BpfCapture>> BpfCapture::Open(const BpfCaptureOptions& options) {
  // libbpf's own messages would only repeat what the returned status says.
  libbpf_set_print(nullptr);
  std::unique_ptr<BpfCapture> c(new BpfCapture(options));
  c->stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (c->stop_fd_ < 0) return absl::InternalError(absl::StrCat("eventfd: ", std::strerror(errno)));

  c->skel_ = resptrace_bpf__open();
  if (c->skel_ == nullptr) return LoadError(errno);
  c->skel_->rodata->snaplen = options.snaplen;
  // Only the programs this hook uses are loaded: less to verify, and a kernel that would
  // reject one of the others does not stand in the way.
  // With XDP on every interface, TC ingress stands in where the kernel refuses XDP (see
  // AttachTo).
  if (options.hook == BpfHook::kTc) {
    bpf_program__set_autoload(c->skel_->progs.resptrace_xdp, false);
  } else if (options.interface != "any") {
    bpf_program__set_autoload(c->skel_->progs.resptrace_tc_ingress, false);
  }
  absl::StatusOr<std::vector<int>> cpus = BpfRingSet::OnlineCpus();
  if (!cpus.ok()) return cpus.status();
  if (cpus->empty()) return absl::InternalError("no online CPU in /sys/devices/system/cpu/online");
  const uint32_t per_cpu = std::bit_ceil(std::max<uint32_t>(
      options.ring_bytes / static_cast<uint32_t>(cpus->size()), kMinRingBytesPerCpu));
  // At a quarter, a half and three quarters full a ring wakes the consumer; between those
  // marks it waits for the timer.
  c->skel_->rodata->wakeup_bytes = per_cpu / 4;
  absl::StatusOr<std::unique_ptr<BpfRingSet>> rings = BpfRingSet::Create(*cpus, per_cpu);
  if (!rings.ok()) {
    // Making the rings is the first privileged step: say which privileges.
    return absl::IsPermissionDenied(rings.status()) ? LoadError(EPERM) : rings.status();
  }
  c->rings_ = *std::move(rings);
  if (absl::Status s = c->rings_->PrepareArray(c->skel_->maps.rings); !s.ok()) return s;
  if (int err = resptrace_bpf__load(c->skel_); err != 0) return LoadError(err);
  if (absl::Status s = c->rings_->Install(bpf_map__fd(c->skel_->maps.rings)); !s.ok()) return s;

  if (absl::Status s = SetPorts(bpf_map__fd(c->skel_->maps.ports), options.server_ports); !s.ok()) {
    return s;
  }

  std::vector<NetInterface> targets;
  if (options.interface == "any") {
    absl::StatusOr<InterfaceWatcher> w = InterfaceWatcher::Open();
    if (!w.ok()) return w.status();
    c->watcher_ = std::make_unique<InterfaceWatcher>(*std::move(w));
    absl::StatusOr<std::vector<NetInterface>> up = UpInterfaces();
    if (!up.ok()) return up.status();
    targets = *std::move(up);
  } else {
    const unsigned idx = if_nametoindex(options.interface.c_str());
    if (idx == 0) {
      return absl::NotFoundError(absl::StrCat("no network interface named '", options.interface,
                                              "' (see `ip link`)"));
    }
    targets.push_back(NetInterface{static_cast<int>(idx), options.interface});
  }
  for (const NetInterface& i : targets) {
    if (absl::Status s = c->AttachTo(i); !s.ok()) return s;
  }
  return c;
}

absl::Status BpfCapture::AttachTo(const NetInterface& i) {
  if (std::find(attached_ifindex_.begin(), attached_ifindex_.end(), i.ifindex) != attached_ifindex_.end()) {
    return absl::OkStatus();
  }
  // A killed run's clsact filters would capture every segment a second time.
  absl::StatusOr<int> swept = SweepStaleClsactFilters(i.ifindex);
  if (!swept.ok()) return swept.status();

  const bool lo = IsLoopback(i.name);
  std::vector<std::string> hooks;
  bool xdp = options_.hook == BpfHook::kXdp;
  if (xdp) {
    bpf_link* l = bpf_program__attach_xdp(skel_->progs.resptrace_xdp, i.ifindex);
    const int err = errno;
    if (l != nullptr) {
      xdp_.push_back(l);
      hooks.push_back("xdp");
    } else if (err == EEXIST && bpf_program__fd(skel_->progs.resptrace_tc_ingress) >= 0) {
      // The kernel refuses XDP on a port of a bridge (or bond) that has XDP itself.
      xdp = false;
    } else {
      return absl::UnavailableError(absl::StrCat("cannot attach XDP to ", i.name, ": ",
                                                 std::strerror(err)));
    }
  }
  // Loopback: each packet passes egress then ingress; one hook sees it once. Egress sees
  // GSO super-segments whole. With XDP, XDP has it at ingress already.
  const bool ingress = !xdp && !lo;
  const bool egress = !(xdp && lo);
  for (const auto& [want, dir, prog] :
       {std::tuple{ingress, TcDirection::kIngress, skel_->progs.resptrace_tc_ingress},
        std::tuple{egress, TcDirection::kEgress, skel_->progs.resptrace_tc_egress}}) {
    if (!want) continue;
    absl::StatusOr<std::unique_ptr<TcAttachment>> a =
        TcAttachment::Attach(bpf_program__fd(prog), i.ifindex, dir);
    if (!a.ok()) return a.status();
    hooks.push_back(absl::StrCat((*a)->mode() == TcAttachment::Mode::kTcx ? "tcx " : "clsact ",
                                 dir == TcDirection::kIngress ? "ingress" : "egress"));
    tc_.push_back(*std::move(a));
  }
  attached_ifindex_.push_back(i.ifindex);
  attached_.push_back(absl::StrCat(i.name, ": ", absl::StrJoin(hooks, ", ")));
  return absl::OkStatus();
}

void BpfCapture::Drain(const std::function<void(const Segment&)>& on_segment) {
  // Only records stamped before now: the ones after may still lack their causes in
  // another CPU's ring (see bpf_ring_set.h).
  const uint64_t now = static_cast<uint64_t>(NowNs(CLOCK_MONOTONIC));
  rings_->Drain(now, [&](const void* data, size_t size) {
    decoder_.OnRecord(data, size, on_segment);
  });
  decoder_.FlushStalled(now, on_segment);
}

absl::Status BpfCapture::Run(const std::function<void(const Segment&)>& on_segment,
                             const std::function<void(int64_t now_ns)>& on_tick, int tick_ms) {
  const int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return absl::InternalError(absl::StrCat("epoll: ", std::strerror(errno)));
  auto add = [ep](int fd, uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
  };
  // Edge-triggered: a ring stays readable while it holds records for the next drain.
  for (int fd : rings_->fds()) add(fd, EPOLLIN | EPOLLET);
  add(stop_fd_, EPOLLIN);
  if (watcher_) add(watcher_->fd(), EPOLLIN);
  absl::Status result = absl::OkStatus();
  int64_t next_tick = NowNs() + int64_t{tick_ms} * 1'000'000;
  while (!stopping_.load(std::memory_order_relaxed)) {
    epoll_event events[16];
    // The program wakes us only as a ring fills past its marks: between them, the timeout
    // drains.
    const int n = epoll_wait(ep, events, 16, tick_ms);
    if (n < 0 && errno != EINTR) {
      result = absl::InternalError(absl::StrCat("epoll_wait: ", std::strerror(errno)));
      break;
    }
    Drain(on_segment);
    for (int k = 0; k < n; ++k) {
      if (watcher_ && events[k].data.fd == watcher_->fd()) {
        absl::StatusOr<std::vector<NetInterface>> up = watcher_->ReadUp();
        if (!up.ok()) continue;
        // A new interface we cannot attach to is not a reason to stop the others.
        for (const NetInterface& i : *up) AttachTo(i).IgnoreError();
      }
    }
    const int64_t now = NowNs();
    if (now >= next_tick) {
      on_tick(now);
      next_tick = now + int64_t{tick_ms} * 1'000'000;
    }
  }
  Drain(on_segment);  // what arrived before the stop
  decoder_.FlushStalled(UINT64_MAX, on_segment);  // no chunk comes after it
  close(ep);
  return result;
}

void BpfCapture::Stop() {
  stopping_.store(true, std::memory_order_relaxed);
  const uint64_t one = 1;
  [[maybe_unused]] ssize_t n = write(stop_fd_, &one, sizeof one);
}

BpfCaptureCounters BpfCapture::Counters() const {
  BpfCaptureCounters out;
  out.decode = decoder_.counters();
  out.attached_hooks = tc_.size() + xdp_.size();
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return out;
  std::vector<resptrace_bpf_counters> per_cpu(static_cast<size_t>(cpus));
  const uint32_t key = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.counters), &key, per_cpu.data()) != 0) return out;
  for (const resptrace_bpf_counters& c : per_cpu) {
    for (uint32_t k = 0; k < RESPTRACE_BPF_CTR_COUNT; ++k) out.kernel[k] += c.value[k];
  }
  return out;
}

std::string BpfCapture::Describe() const { return absl::StrJoin(attached_, "; "); }

}  // namespace resptrace

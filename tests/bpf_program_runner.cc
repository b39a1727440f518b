#include "bpf_program_runner.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sched.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstdint>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <cstring>

#include "resptrace.skel.h"

namespace resptrace::test {
namespace {

std::string& LibbpfLog() {
  static std::string log;
  return log;
}

int CollectLibbpfLog(libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[1024];
  const int n = std::vsnprintf(line, sizeof line, format, args);
  LibbpfLog() += line;
  return n;
}

std::string ErrnoText(int err) { return std::strerror(err < 0 ? -err : err); }

}  // namespace

BpfProgramRunner::~BpfProgramRunner() { Unload(); }

void BpfProgramRunner::Unload() {
  if (epoll_fd_ >= 0) close(epoll_fd_);
  epoll_fd_ = -1;
  rings_.reset();
  resptrace_bpf__destroy(skel_);
  skel_ = nullptr;
}

std::string BpfProgramRunner::Load(const BpfProgramConfig& config, uint16_t port) {
  Unload();
  if (const int cpu = sched_getcpu(); cpu < 0 || !PinToCpu(cpu)) {
    return "cannot pin the test to one CPU: " + ErrnoText(errno);
  }
  LibbpfLog().clear();
  libbpf_set_print(CollectLibbpfLog);
  skel_ = resptrace_bpf__open();
  if (skel_ == nullptr) return "opening the BPF skeleton failed: " + LibbpfLog();
  skel_->rodata->snaplen = config.snaplen;
  skel_->rodata->wakeup_bytes = config.wakeup_bytes;
  const int cpus = libbpf_num_possible_cpus();
  std::vector<int> all(static_cast<size_t>(cpus));
  for (int c = 0; c < cpus; ++c) all[static_cast<size_t>(c)] = c;
  absl::StatusOr<std::unique_ptr<BpfRingSet>> rings = BpfRingSet::Create(all, config.ring_bytes);
  if (!rings.ok()) return std::string(rings.status().message());
  rings_ = *std::move(rings);
  if (absl::Status s = rings_->PrepareArray(skel_->maps.rings); !s.ok()) {
    return std::string(s.message());
  }
  if (const int err = resptrace_bpf__load(skel_); err != 0) {
    return "loading the BPF programs failed (" + ErrnoText(err) + "): " + LibbpfLog();
  }
  const uint32_t word = port / 64;
  const uint64_t bits = uint64_t{1} << (port % 64);
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.ports), &word, &bits, BPF_ANY) != 0) {
    return "filling the ports map failed: " + ErrnoText(errno);
  }
  if (absl::Status s = rings_->Install(bpf_map__fd(skel_->maps.rings)); !s.ok()) {
    return std::string(s.message());
  }
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  for (int fd : rings_->fds()) {
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLET;
    ev.data.fd = fd;
    if (epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return "epoll: " + ErrnoText(errno);
  }
  return "";
}

uint32_t BpfProgramRunner::Run(BpfHook hook, const std::string& frame, std::string& error) {
  bpf_program* program = hook == BpfHook::kTcIngress  ? skel_->progs.resptrace_tc_ingress
                         : hook == BpfHook::kTcEgress ? skel_->progs.resptrace_tc_egress
                                                      : skel_->progs.resptrace_xdp;
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<uint32_t>(frame.size());
  opts.repeat = 1;
  if (const int err = bpf_prog_test_run_opts(bpf_program__fd(program), &opts); err != 0) {
    error = "test run of " + std::string(bpf_program__name(program)) + " on " +
            std::to_string(frame.size()) + " bytes failed: " + ErrnoText(err);
  }
  return opts.retval;
}

std::vector<BpfRecord> BpfProgramRunner::Drain(uint64_t before_ns) {
  std::vector<BpfRecord> records;
  rings_->Drain(before_ns, [&records](const void* data, size_t size) {
    BpfRecord r{};
    std::memcpy(&r.header, data, std::min(size, sizeof(r.header)));
    const size_t available = size > sizeof(r.header) ? size - sizeof(r.header) : 0;
    r.payload.assign(static_cast<const char*>(data) + sizeof(r.header),
                     std::min<size_t>(r.header.chunk_len, available));
    r.record_size = size;
    records.push_back(std::move(r));
  });
  return records;
}

std::vector<BpfRecord> BpfProgramRunner::Poll(int timeout_ms) {
  epoll_event events[16];
  if (epoll_wait(epoll_fd_, events, 16, timeout_ms) <= 0) return {};
  return Drain();
}

bool BpfProgramRunner::WokeUp(int timeout_ms) {
  epoll_event events[16];
  return epoll_wait(epoll_fd_, events, 16, timeout_ms) > 0;
}

BpfCounters BpfProgramRunner::ReadCounters() {
  BpfCounters total{};
  std::vector<resptrace_bpf_counters> per_cpu(static_cast<size_t>(libbpf_num_possible_cpus()));
  const uint32_t key = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.counters), &key, per_cpu.data()) != 0) {
    return total;  // all 0: the caller's exact comparison reports it
  }
  for (const resptrace_bpf_counters& c : per_cpu) {
    for (uint32_t i = 0; i < RESPTRACE_BPF_CTR_COUNT; ++i) total[i] += c.value[i];
  }
  return total;
}

bool BpfProgramRunner::PinToCpu(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return sched_setaffinity(0, sizeof set, &set) == 0;
}

int BpfProgramRunner::PossibleCpus() { return libbpf_num_possible_cpus(); }


}  // namespace resptrace::test

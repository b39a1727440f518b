#include "bpf_program_runner.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
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
  ring_buffer__free(ring_);
  ring_ = nullptr;
  resptrace_bpf__destroy(skel_);
  skel_ = nullptr;
}

std::string BpfProgramRunner::Load(const BpfProgramConfig& config, uint16_t port) {
  Unload();
  LibbpfLog().clear();
  libbpf_set_print(CollectLibbpfLog);
  skel_ = resptrace_bpf__open();
  if (skel_ == nullptr) return "opening the BPF skeleton failed: " + LibbpfLog();
  skel_->rodata->snaplen = config.snaplen;
  skel_->rodata->wakeup_bytes = config.wakeup_bytes;
  if (config.ring_bytes != 0) {
    if (const int err = bpf_map__set_max_entries(skel_->maps.rb, config.ring_bytes); err != 0) {
      return "sizing the ring buffer failed: " + ErrnoText(err);
    }
  }
  if (const int err = resptrace_bpf__load(skel_); err != 0) {
    return "loading the BPF programs failed (" + ErrnoText(err) + "): " + LibbpfLog();
  }
  const uint32_t word = port / 64;
  const uint64_t bits = uint64_t{1} << (port % 64);
  if (bpf_map_update_elem(bpf_map__fd(skel_->maps.ports), &word, &bits, BPF_ANY) != 0) {
    return "filling the ports map failed: " + ErrnoText(errno);
  }
  ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.rb), OnRecord, &records_, nullptr);
  if (ring_ == nullptr) return "ring_buffer__new failed: " + ErrnoText(errno);
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

std::vector<BpfRecord> BpfProgramRunner::Drain() {
  records_.clear();
  ring_buffer__consume(ring_);
  return std::move(records_);
}

std::vector<BpfRecord> BpfProgramRunner::Poll(int timeout_ms) {
  records_.clear();
  ring_buffer__poll(ring_, timeout_ms);
  return std::move(records_);
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

int BpfProgramRunner::PossibleCpus() { return libbpf_num_possible_cpus(); }

int BpfProgramRunner::OnRecord(void* ctx, void* data, size_t size) {
  auto* records = static_cast<std::vector<BpfRecord>*>(ctx);
  BpfRecord r{};
  std::memcpy(&r.header, data, std::min(size, sizeof(r.header)));
  const size_t available = size > sizeof(r.header) ? size - sizeof(r.header) : 0;
  r.payload.assign(static_cast<const char*>(data) + sizeof(r.header),
                   std::min<size_t>(r.header.chunk_len, available));
  r.record_size = size;
  records->push_back(std::move(r));
  return 0;
}

}  // namespace resptrace::test

// Test helper: loads the BPF skeleton (bpf/resptrace.bpf.c), runs frames through its
// programs with BPF_PROG_TEST_RUN and reads back ring-buffer records and counters. Its
// own translation unit because libbpf's <linux/bpf.h> and libpcap's <pcap/bpf.h> (used
// by pcap_builder.h) both define struct bpf_insn and struct bpf_program.
#ifndef RESPTRACE_TESTS_BPF_PROGRAM_RUNNER_H_
#define RESPTRACE_TESTS_BPF_PROGRAM_RUNNER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "resptrace/bpf_event.h"
#include "resptrace/bpf_ring_set.h"

struct resptrace_bpf;

namespace resptrace::test {

struct BpfRecord {
  resptrace_bpf_event header;
  std::string payload;  // the chunk_len bytes after the header
  size_t record_size;   // the ring buffer's record size: the reservation's size class
};

struct BpfProgramConfig {
  uint32_t snaplen = RESPTRACE_BPF_SNAPLEN_DEFAULT;
  uint64_t wakeup_bytes = RESPTRACE_BPF_WAKEUP_BYTES_DEFAULT;
  uint32_t ring_bytes = 256u << 10;  // each CPU's ring
};

using BpfCounters = std::array<uint64_t, RESPTRACE_BPF_CTR_COUNT>;

enum class BpfHook { kTcIngress, kTcEgress, kXdp };

class BpfProgramRunner {
 public:
  BpfProgramRunner() = default;
  ~BpfProgramRunner();
  BpfProgramRunner(const BpfProgramRunner&) = delete;
  BpfProgramRunner& operator=(const BpfProgramRunner&) = delete;

  // Opens and loads the programs with `config` and keeps `port`. Returns "" on success,
  // else what failed with libbpf's log.
  std::string Load(const BpfProgramConfig& config, uint16_t port);

  // Runs `frame` (Ethernet) through the program at `hook`; returns its return value, or
  // sets `error` when the test run itself failed.
  uint32_t Run(BpfHook hook, const std::string& frame, std::string& error);

  // Every record waiting in the ring buffers and stamped before `before_ns`
  // (CLOCK_MONOTONIC), oldest first.
  std::vector<BpfRecord> Drain(uint64_t before_ns = UINT64_MAX);
  // Waits up to `timeout_ms` for a wake-up on any ring; returns the records then waiting.
  std::vector<BpfRecord> Poll(int timeout_ms);
  // Whether a ring woke its reader within `timeout_ms`; the records stay where they are.
  bool WokeUp(int timeout_ms);

  BpfCounters ReadCounters();

  // Moves the calling thread to `cpu`, where test runs then execute; false if it cannot.
  // Load() pins it to the CPU it is on, so that records land in one ring.
  static bool PinToCpu(int cpu);

  // CPUs the kernel may run programs on: bounds resptrace_bpf_event.cpu.
  static int PossibleCpus();

 private:
  void Unload();

  resptrace_bpf* skel_ = nullptr;
  std::unique_ptr<BpfRingSet> rings_;
  int epoll_fd_ = -1;
};

}  // namespace resptrace::test

#endif  // RESPTRACE_TESTS_BPF_PROGRAM_RUNNER_H_

// Test helper: loads the BPF skeleton (bpf/resptrace.bpf.c), runs frames through its
// programs with BPF_PROG_TEST_RUN and reads back ring-buffer records and counters. Its
// own translation unit because libbpf's <linux/bpf.h> and libpcap's <pcap/bpf.h> (used
// by pcap_builder.h) both define struct bpf_insn and struct bpf_program.
#ifndef RESPTRACE_TESTS_BPF_PROGRAM_RUNNER_H_
#define RESPTRACE_TESTS_BPF_PROGRAM_RUNNER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "resptrace/bpf_event.h"

struct resptrace_bpf;
struct ring_buffer;

namespace resptrace::test {

struct BpfRecord {
  resptrace_bpf_event header;
  std::string payload;  // the chunk_len bytes after the header
  size_t record_size;   // the ring buffer's record size: the reservation's size class
};

struct BpfProgramConfig {
  uint32_t snaplen = RESPTRACE_BPF_SNAPLEN_DEFAULT;
  uint64_t wakeup_bytes = RESPTRACE_BPF_WAKEUP_BYTES_DEFAULT;
  uint32_t ring_bytes = 0;  // 0: the program's default
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

  // Every record waiting in the ring buffer, oldest first (ring_buffer__consume).
  std::vector<BpfRecord> Drain();
  // Waits up to `timeout_ms` for a wake-up (ring_buffer__poll); returns the records read.
  std::vector<BpfRecord> Poll(int timeout_ms);

  BpfCounters ReadCounters();

  // CPUs the kernel may run programs on: bounds resptrace_bpf_event.cpu.
  static int PossibleCpus();

 private:
  void Unload();
  static int OnRecord(void* ctx, void* data, size_t size);

  resptrace_bpf* skel_ = nullptr;
  ring_buffer* ring_ = nullptr;
  std::vector<BpfRecord> records_;
};

}  // namespace resptrace::test

#endif  // RESPTRACE_TESTS_BPF_PROGRAM_RUNNER_H_

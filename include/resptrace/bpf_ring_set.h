// The eBPF program's ring buffers, one per CPU (the array of maps `rings` in
// bpf/resptrace.bpf.c), read as one stream in timestamp order.
//
// One ring per CPU spares the producers a shared lock and shared cache lines; the price is
// that the rings must be merged. The merge must keep causal order: a client's ACK must not
// reach the collector before the server's data it acknowledges, or the collector would see
// a gap. Drain(before_ns) hands over only records stamped before `before_ns`, a
// CLOCK_MONOTONIC time taken before the drain starts. A record Y stamped before it has its
// causes (records X committed before Y's program started) committed before that time too,
// so visible in every ring when the drain reads it; records stamped later wait for the
// next drain. Within a ring records are in timestamp order, as programs on one CPU do not
// nest; across rings the merge orders them.
//
// The rings are read in place through their memory mappings (no copy); a record's bytes
// are valid during the callback only, and its space returns to the kernel after it.
#ifndef RESPTRACE_BPF_RING_SET_H_
#define RESPTRACE_BPF_RING_SET_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

struct bpf_map;

namespace resptrace {

class BpfRingSet {
 public:
  // Creates one ring of `ring_bytes` (a power of two of pages) for each CPU in `cpus`.
  static absl::StatusOr<std::unique_ptr<BpfRingSet>> Create(const std::vector<int>& cpus,
                                                            uint32_t ring_bytes);
  // Before the program loads: sizes its array of maps `outer` to every possible CPU and
  // gives it one of these rings as the inner map's template, so that the kernel accepts
  // rings of this size in it. (libbpf 1.1 cannot resize its own template: it crashes.)
  absl::Status PrepareArray(bpf_map* outer) const;
  // Stores each CPU's ring in the loaded program's array of maps, at the CPU's index.
  absl::Status Install(int outer_map_fd) const;
  ~BpfRingSet();
  BpfRingSet(const BpfRingSet&) = delete;
  BpfRingSet& operator=(const BpfRingSet&) = delete;

  // The rings' file descriptors: each is readable (for epoll, edge-triggered) after the
  // program asked for a wake-up on it.
  std::vector<int> fds() const;

  // Calls on_record(data, size) for each committed record stamped before `before_ns`
  // (CLOCK_MONOTONIC), in timestamp order; returns how many.
  size_t Drain(uint64_t before_ns, absl::FunctionRef<void(const void*, size_t)> on_record);

  // The CPUs that are online (/sys/devices/system/cpu/online).
  static absl::StatusOr<std::vector<int>> OnlineCpus();
  // Parses a kernel CPU list such as "0-3,8,10-11".
  static absl::StatusOr<std::vector<int>> ParseCpuList(std::string_view list);

 private:
  struct Ring {
    int cpu = 0;
    int fd = -1;
    void* consumer_map = nullptr;  // the consumer page, read-write
    void* producer_map = nullptr;  // the producer page, then the data pages mapped twice
    size_t producer_map_bytes = 0;
    uint64_t* consumer_pos = nullptr;
    const uint64_t* producer_pos = nullptr;
    const uint8_t* data = nullptr;
    uint64_t mask = 0;
    uint64_t release_every = 0;  // bytes read between two updates of consumer_pos
    uint64_t pos = 0;            // the next record header
    uint64_t end = 0;            // the producer position last read
    uint64_t released = 0;       // the consumer position last published
    // The record Peek() found: its bytes, its stamp and where the one after it starts.
    const uint8_t* head = nullptr;
    uint32_t head_bytes = 0;
    uint64_t head_ts = 0;
    uint64_t next = 0;
  };
  BpfRingSet() = default;

  // Sets ring.head to the next record to hand over, skipping discarded ones; false when
  // there is none yet (none committed, or stamped at or after `before_ns`).
  static bool Peek(Ring& ring, uint64_t before_ns);
  static void Release(Ring& ring);

  std::vector<Ring> rings_;
  std::vector<uint32_t> heap_;  // indices of rings with a record to hand over
};

}  // namespace resptrace

#endif  // RESPTRACE_BPF_RING_SET_H_

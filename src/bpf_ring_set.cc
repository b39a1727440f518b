#include "resptrace/bpf_ring_set.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace resptrace {
namespace {

// The kernel's record header (struct bpf_ringbuf_hdr): the sample's length with the
// busy and discard bits, then the page offset, which a reader does not need.
constexpr uint32_t kBusyBit = BPF_RINGBUF_BUSY_BIT;
constexpr uint32_t kDiscardBit = BPF_RINGBUF_DISCARD_BIT;
constexpr uint64_t kHeaderBytes = BPF_RINGBUF_HDR_SZ;

uint64_t LoadAcquire(const uint64_t* p) { return __atomic_load_n(p, __ATOMIC_ACQUIRE); }

}  // namespace

absl::StatusOr<std::vector<int>> BpfRingSet::ParseCpuList(std::string_view list) {
  std::vector<int> cpus;
  // This Abseil's string_view is its own type, not std::string_view.
  const absl::string_view text(list.data(), list.size());
  for (absl::string_view part : absl::StrSplit(absl::StripAsciiWhitespace(text), ',')) {
    const size_t dash = part.find('-');
    const absl::string_view low = part.substr(0, dash);
    const absl::string_view high = dash == part.npos ? low : part.substr(dash + 1);
    int first = 0;
    int last = 0;
    if (!absl::SimpleAtoi(low, &first) || !absl::SimpleAtoi(high, &last) ||
        first < 0 || last < first || last >= (1 << 16)) {
      return absl::InvalidArgumentError(absl::StrCat("bad CPU list '", text, "'"));
    }
    for (int c = first; c <= last; ++c) cpus.push_back(c);
  }
  return cpus;
}

absl::StatusOr<std::vector<int>> BpfRingSet::OnlineCpus() {
  constexpr const char* kPath = "/sys/devices/system/cpu/online";
  std::ifstream in(kPath);
  std::string line;
  if (!std::getline(in, line)) {
    return absl::UnavailableError(absl::StrCat("cannot read ", kPath, ": the online CPUs"));
  }
  return ParseCpuList(line);
}

absl::StatusOr<std::unique_ptr<BpfRingSet>> BpfRingSet::Create(const std::vector<int>& cpus,
                                                              uint32_t ring_bytes) {
  if (cpus.empty()) return absl::InvalidArgumentError("no CPU to make a ring buffer for");
  std::unique_ptr<BpfRingSet> set(new BpfRingSet());
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  set->rings_.reserve(cpus.size());
  for (int cpu : cpus) {
    Ring& r = set->rings_.emplace_back();
    r.cpu = cpu;
    r.fd = bpf_map_create(BPF_MAP_TYPE_RINGBUF, "resptrace_rb", 0, 0, ring_bytes, nullptr);
    if (r.fd < 0 && (errno == EPERM || errno == EACCES)) {
      return absl::PermissionDeniedError("cannot create the eBPF ring buffers: no privilege");
    }
    if (r.fd < 0) {
      return absl::ResourceExhaustedError(
          absl::StrCat("cannot create the ring buffer of ", ring_bytes >> 10, " KiB for CPU ", cpu,
                       ": ", std::strerror(errno), " (try a smaller --buffer-mb)"));
    }
    // As libbpf maps a ring: the consumer page writable, then the producer page and the
    // data pages read-only, the data twice in a row so that a record that wraps around
    // reads as one piece.
    r.consumer_map = mmap(nullptr, page, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
    r.producer_map_bytes = page + 2 * size_t{ring_bytes};
    r.producer_map = mmap(nullptr, r.producer_map_bytes, PROT_READ, MAP_SHARED, r.fd,
                          static_cast<off_t>(page));
    if (r.consumer_map == MAP_FAILED || r.producer_map == MAP_FAILED) {
      const int err = errno;
      if (r.consumer_map == MAP_FAILED) r.consumer_map = nullptr;
      if (r.producer_map == MAP_FAILED) r.producer_map = nullptr;
      return absl::ResourceExhaustedError(absl::StrCat(
          "cannot map the ring buffer of CPU ", cpu, ": ", std::strerror(err)));
    }
    r.consumer_pos = static_cast<uint64_t*>(r.consumer_map);
    r.producer_pos = static_cast<const uint64_t*>(r.producer_map);
    r.data = static_cast<const uint8_t*>(r.producer_map) + page;
    r.mask = ring_bytes - 1;
    r.release_every = ring_bytes / 8;
    r.pos = r.released = LoadAcquire(r.consumer_pos);
    r.end = r.pos;
  }
  set->heap_.reserve(set->rings_.size());
  return set;
}

absl::Status BpfRingSet::PrepareArray(bpf_map* outer) const {
  const int possible = libbpf_num_possible_cpus();
  if (possible <= 0 || rings_.back().cpu >= possible) {
    return absl::InternalError("cannot tell which CPUs this host has (/sys/devices/system/cpu)");
  }
  if (bpf_map__set_max_entries(outer, static_cast<uint32_t>(possible)) != 0 ||
      bpf_map__set_inner_map_fd(outer, rings_.front().fd) != 0) {
    return absl::InternalError("cannot set up the eBPF program's array of ring buffers");
  }
  return absl::OkStatus();
}

absl::Status BpfRingSet::Install(int outer_map_fd) const {
  for (const Ring& r : rings_) {
    const uint32_t key = static_cast<uint32_t>(r.cpu);
    if (bpf_map_update_elem(outer_map_fd, &key, &r.fd, BPF_ANY) != 0) {
      return absl::InternalError(absl::StrCat("cannot hand the ring buffer of CPU ", r.cpu,
                                              " to the eBPF program: ", std::strerror(errno)));
    }
  }
  return absl::OkStatus();
}

BpfRingSet::~BpfRingSet() {
  for (Ring& r : rings_) {
    if (r.consumer_map != nullptr) munmap(r.consumer_map, sysconf(_SC_PAGESIZE));
    if (r.producer_map != nullptr) munmap(r.producer_map, r.producer_map_bytes);
    if (r.fd >= 0) close(r.fd);
  }
}

std::vector<int> BpfRingSet::fds() const {
  std::vector<int> out;
  for (const Ring& r : rings_) out.push_back(r.fd);
  return out;
}

bool BpfRingSet::Peek(Ring& r, uint64_t before_ns) {
  for (;;) {
    if (r.pos == r.end) {
      r.end = LoadAcquire(r.producer_pos);
      if (r.pos == r.end) return false;
    }
    const uint8_t* at = r.data + (r.pos & r.mask);
    const uint32_t len = __atomic_load_n(reinterpret_cast<const uint32_t*>(at), __ATOMIC_ACQUIRE);
    if (len & kBusyBit) return false;  // reserved, not yet committed
    const uint32_t bytes = len & ~(kBusyBit | kDiscardBit);
    const uint64_t next = r.pos + ((kHeaderBytes + bytes + 7) & ~uint64_t{7});
    if (len & kDiscardBit) {
      r.pos = next;
      continue;
    }
    const uint8_t* sample = at + kHeaderBytes;
    // The program's records start with their CLOCK_MONOTONIC stamp; anything shorter is
    // handed on at once for the decoder to count.
    uint64_t ts = 0;
    if (bytes >= sizeof ts) std::memcpy(&ts, sample, sizeof ts);
    if (ts >= before_ns) return false;
    r.head = sample;
    r.head_bytes = bytes;
    r.head_ts = ts;
    r.next = next;
    // Another CPU wrote the ring: start fetching the next record (header and the start
    // of its payload) while this one is processed. The second mapping keeps it in bounds.
    const uint8_t* ahead = r.data + (next & r.mask);
    for (int line = 0; line < 3; ++line) __builtin_prefetch(ahead + 64 * line);
    return true;
  }
}

void BpfRingSet::Release(Ring& r) {
  if (r.released == r.pos) return;
  __atomic_store_n(r.consumer_pos, r.pos, __ATOMIC_RELEASE);
  r.released = r.pos;
}

size_t BpfRingSet::Drain(uint64_t before_ns,
                         absl::FunctionRef<void(const void*, size_t)> on_record) {
  size_t handed = 0;
  // Hands over the head of `r` and frees its space now and then, so that producers get
  // room back during a long drain.
  auto take = [&](Ring& r) {
    on_record(r.head, r.head_bytes);
    ++handed;
    r.pos = r.next;
    if (r.pos - r.released >= r.release_every) Release(r);
  };
  // A min-heap on the head's stamp (the ring's index breaks ties, for a stable order).
  auto later = [this](uint32_t a, uint32_t b) {
    const Ring& x = rings_[a];
    const Ring& y = rings_[b];
    return x.head_ts != y.head_ts ? x.head_ts > y.head_ts : a > b;
  };
  heap_.clear();
  for (uint32_t i = 0; i < rings_.size(); ++i) {
    if (Peek(rings_[i], before_ns)) heap_.push_back(i);
  }
  std::make_heap(heap_.begin(), heap_.end(), later);
  while (heap_.size() > 1) {
    std::pop_heap(heap_.begin(), heap_.end(), later);
    Ring& r = rings_[heap_.back()];
    take(r);
    if (Peek(r, before_ns)) {
      std::push_heap(heap_.begin(), heap_.end(), later);
    } else {
      heap_.pop_back();
    }
  }
  // One ring left with records: no more merging to do.
  if (!heap_.empty()) {
    Ring& r = rings_[heap_.front()];
    do {
      take(r);
    } while (Peek(r, before_ns));
  }
  for (Ring& r : rings_) Release(r);
  return handed;
}

}  // namespace resptrace

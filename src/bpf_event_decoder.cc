#include "resptrace/bpf_event_decoder.h"

#include <time.h>

#include <cstring>

namespace resptrace {

static_assert(sizeof(resptrace_bpf_event) == 80, "bpf_event.h and this decoder disagree");

BpfEventDecoder::BpfEventDecoder(int64_t monotonic_to_epoch_ns) : offset_ns_(monotonic_to_epoch_ns) {}

int64_t BpfEventDecoder::MonotonicToEpochNow() {
  timespec mono{}, real{};
  clock_gettime(CLOCK_MONOTONIC, &mono);
  clock_gettime(CLOCK_REALTIME, &real);
  return (static_cast<int64_t>(real.tv_sec) - mono.tv_sec) * 1'000'000'000 +
         (static_cast<int64_t>(real.tv_nsec) - mono.tv_nsec);
}

Segment BpfEventDecoder::SegmentOf(const resptrace_bpf_event& e) const {
  Segment s;
  s.ts_ns = static_cast<int64_t>(e.timestamp_ns) + offset_ns_;
  const bool v6 = e.ip_version == 6;
  s.flow.src.addr = v6 ? IpAddress::V6(e.saddr) : IpAddress::V4(e.saddr);
  s.flow.dst.addr = v6 ? IpAddress::V6(e.daddr) : IpAddress::V4(e.daddr);
  s.flow.src.port = e.sport;
  s.flow.dst.port = e.dport;
  s.seq = e.seq;
  s.ack = e.ack;
  s.flags = e.tcp_flags;
  s.payload_len = e.payload_len;
  s.wire_len = e.payload_len;  // the program reports no frame length; the payload's will do
  s.ifindex = e.ifindex;
  s.outgoing = e.direction == RESPTRACE_BPF_DIR_EGRESS;
  return s;
}

const Segment* BpfEventDecoder::Decode(const void* data, size_t size) {
  ++counters_.records;
  resptrace_bpf_event e;
  if (size < sizeof e) {
    ++counters_.malformed_records;
    return nullptr;
  }
  std::memcpy(&e, data, sizeof e);
  if (size - sizeof e < e.chunk_len || e.chunk_offset + e.chunk_len > e.captured_len ||
      e.captured_len > e.payload_len) {
    ++counters_.malformed_records;
    return nullptr;
  }
  const char* chunk = static_cast<const char*>(data) + sizeof e;

  // A CPU's program writes a segment's chunks one after the other, and stops at the first
  // that finds its ring full: any record of that CPU but the next chunk ends the segment
  // being joined there.
  if (e.cpu < per_cpu_.size()) {
    Assembly& a = per_cpu_[e.cpu];
    if (a.active && (e.chunk_offset == 0 || a.header.seq != e.seq ||
                     a.payload.size() != e.chunk_offset)) {
      EndBroken(a);
    }
  }

  // The usual case: the whole capture in one record, handed on without a copy.
  if (e.chunk_offset == 0 && e.chunk_len == e.captured_len) {
    current_ = SegmentOf(e);
    current_.payload = std::string_view(chunk, e.chunk_len);
    ++counters_.segments;
    return &current_;
  }

  if (e.cpu >= per_cpu_.size()) per_cpu_.resize(e.cpu + 1);
  Assembly& a = per_cpu_[e.cpu];
  if (e.chunk_offset == 0) {
    a.header = e;
    a.payload.assign(chunk, e.chunk_len);
    a.active = true;
    return nullptr;
  }
  if (!a.active) {
    // A later chunk whose first one never came: the program does not write those.
    ++counters_.broken_chunks;
    return nullptr;
  }
  a.payload.append(chunk, e.chunk_len);
  if (a.payload.size() < e.captured_len) return nullptr;
  a.active = false;
  current_ = SegmentOf(a.header);
  current_.payload = a.payload;
  ++counters_.segments;
  return &current_;
}

void BpfEventDecoder::EndBroken(Assembly& a) {
  ++counters_.broken_chunks;
  a.active = false;
  broken_ = SegmentOf(a.header);
  broken_payload_.swap(a.payload);
  broken_.payload = broken_payload_;
  broken_ready_ = true;
  ++counters_.segments;
}

}  // namespace resptrace

#include "resptrace/reassembler.h"

#include <algorithm>

namespace resptrace {
namespace {

// An ack further ahead than this is not a plausible acknowledgement of this stream (a
// window is at most 1 GiB with the largest window scale): ignore it rather than declare
// a huge gap.
constexpr uint32_t kMaxAckAhead = uint32_t{1} << 30;

std::optional<uint32_t> AckOf(const Segment& seg) {
  return seg.has(tcp_flags::kAck) ? std::optional<uint32_t>(seg.ack) : std::nullopt;
}

}  // namespace

Reassembler::Reassembler(const ReassemblerLimits& limits, ReassemblyCounters* counters)
    : limits_(limits), counters_(counters) {}

int64_t Reassembler::OffsetOf(uint32_t seq) const {
  // Serial-number arithmetic: the signed 32-bit distance from the next expected byte.
  const auto distance = static_cast<int32_t>(seq - next_seq());
  return static_cast<int64_t>(next_) + distance;
}

void Reassembler::Push(const Segment& seg, StreamConsumer& out) {
  // The common case, the next bytes in order with nothing buffered: a compare and a
  // view into the capture buffer.
  const uint32_t len = seg.payload_len;
  if (started_ && len != 0 && len == seg.payload.size() && seg.seq == next_seq() &&
      pending_.empty() && (seg.flags & (tcp_flags::kSyn | tcp_flags::kFin)) == 0) {
    ++counters_->segments;
    counters_->bytes_delivered += len;
    next_ += len;
    out.OnData(seg.payload, seg.ts_ns, AckOf(seg));
    return;
  }
  PushSlow(seg, out);
}

void Reassembler::PushSlow(const Segment& seg, StreamConsumer& out) {
  const bool syn = seg.has(tcp_flags::kSyn);
  const std::optional<uint32_t> ack = AckOf(seg);
  const uint32_t data_seq = seg.seq + (syn ? 1 : 0);  // a SYN takes one sequence number
  // A payload_len shorter than what was captured is malformed: trust the bytes.
  const uint64_t len = std::max<uint64_t>(seg.payload_len, seg.payload.size());
  if (!started_) {
    if (!syn && len == 0) return;
    started_ = true;
    isn_ = data_seq;
    next_ = 0;
  }
  const int64_t offset = OffsetOf(data_seq);
  const int64_t end = offset + static_cast<int64_t>(len);
  if (seg.has(tcp_flags::kFin) && end >= 0) fin_offset_ = static_cast<uint64_t>(end);
  if (len == 0) return;
  ++counters_->segments;

  const auto next = static_cast<int64_t>(next_);
  uint64_t seen = len;  // bytes of this segment already delivered or buffered
  if (end > next) {
    // Bytes before next_ were delivered (or declared missing) already.
    const uint64_t skip = offset < next ? static_cast<uint64_t>(next - offset) : 0;
    const uint64_t captured = seg.payload.size();
    const uint64_t start = static_cast<uint64_t>(offset) + skip;
    const uint64_t captured_end = static_cast<uint64_t>(offset) + std::max(captured, skip);
    const char* data = skip < captured ? seg.payload.data() + skip : nullptr;
    // Real bytes replace missing-byte runs for the same range.
    if (captured_end > start) ForgetMissing(start, captured_end);
    seen = skip;
    if (start == next_) {
      seen += DeliverInOrder(captured_end, static_cast<uint64_t>(end), data, seg.ts_ns, ack, out);
    } else {
      ++counters_->out_of_order;
      if (captured_end > start) seen += Buffer(start, captured_end, data, seg.ts_ns, ack);
      if (static_cast<uint64_t>(end) > captured_end) {
        seen += Buffer(captured_end, static_cast<uint64_t>(end), nullptr, seg.ts_ns, ack);
      }
      EnforceLimits(seg.ts_ns, out);
    }
  }
  if (seen == len) {
    ++counters_->retransmitted;
  } else if (seen != 0) {
    ++counters_->overlapping;
  }
  counters_->overlap_bytes += seen;
}

uint64_t Reassembler::DeliverInOrder(uint64_t captured_end, uint64_t end, const char* data,
                                     int64_t ts_ns, std::optional<uint32_t> ack,
                                     StreamConsumer& out) {
  const uint64_t start = next_;
  uint64_t seen = 0;
  size_t run = 0;  // runs before this one have been delivered
  while (true) {
    if (run < pending_.size() && pending_[run].offset == next_) {
      const Pending& p = pending_[run++];
      const uint64_t run_end = p.offset + p.len;
      if (end > next_) seen += std::min(end, run_end) - next_;
      if (p.data.empty()) {
        Gap(p.len, p.ts_ns, out);
      } else {
        buffered_bytes_ -= p.len;
        counters_->bytes_delivered += p.len;
        out.OnData(p.data, p.ts_ns, p.ack);
      }
      next_ = run_end;
      continue;
    }
    if (next_ >= end) break;
    uint64_t stop = run < pending_.size() ? std::min(end, pending_[run].offset) : end;
    if (next_ < captured_end) {
      stop = std::min(stop, captured_end);
      counters_->bytes_delivered += stop - next_;
      out.OnData(std::string_view(data + (next_ - start), stop - next_), ts_ns, ack);
    } else {
      // Missing bytes next in line: nothing can fill them before they are due.
      Gap(stop - next_, ts_ns, out);
    }
    next_ = stop;
  }
  if (run == pending_.size()) {
    if (pending_.capacity() != 0) std::vector<Pending>().swap(pending_);
  } else {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(run));
  }
  return seen;
}

void Reassembler::DrainPending(StreamConsumer& out) {
  DeliverInOrder(next_, next_, nullptr, 0, std::nullopt, out);
}

size_t Reassembler::FirstRunEndingAfter(uint64_t offset) const {
  const auto it = std::partition_point(pending_.begin(), pending_.end(), [offset](const Pending& p) {
    return p.offset + p.len <= offset;
  });
  return static_cast<size_t>(it - pending_.begin());
}

uint64_t Reassembler::Buffer(uint64_t offset, uint64_t end, const char* data, int64_t ts_ns,
                             std::optional<uint32_t> ack) {
  uint64_t seen = 0;
  uint64_t pos = offset;
  size_t run = FirstRunEndingAfter(offset);
  while (pos < end) {
    if (run < pending_.size() && pending_[run].offset <= pos) {
      // Already covered: the first arrival stays.
      const uint64_t run_end = pending_[run].offset + pending_[run].len;
      seen += std::min(end, run_end) - pos;
      pos = run_end;
      ++run;
      continue;
    }
    const uint64_t stop = run < pending_.size() ? std::min(end, pending_[run].offset) : end;
    Pending p{pos, stop - pos, ts_ns, ack, {}};
    if (data != nullptr) {
      p.data.assign(data + (pos - offset), stop - pos);
      buffered_bytes_ += p.len;
    }
    pending_.insert(pending_.begin() + static_cast<ptrdiff_t>(run), std::move(p));
    ++run;
    pos = stop;
  }
  return seen;
}

void Reassembler::ForgetMissing(uint64_t offset, uint64_t end) {
  size_t run = FirstRunEndingAfter(offset);
  while (run < pending_.size() && pending_[run].offset < end) {
    Pending& p = pending_[run];
    const uint64_t run_end = p.offset + p.len;
    if (!p.data.empty()) {
      ++run;
    } else if (p.offset < offset && run_end > end) {  // split around the range
      p.len = offset - p.offset;
      Pending after{end, run_end - end, p.ts_ns, p.ack, {}};
      pending_.insert(pending_.begin() + static_cast<ptrdiff_t>(run) + 1, std::move(after));
      return;
    } else if (p.offset < offset) {
      p.len = offset - p.offset;
      ++run;
    } else if (run_end > end) {
      p.offset = end;
      p.len = run_end - end;
      return;
    } else {
      pending_.erase(pending_.begin() + static_cast<ptrdiff_t>(run));
    }
  }
}

void Reassembler::EnforceLimits(int64_t ts_ns, StreamConsumer& out) {
  while (buffered_bytes_ > limits_.max_buffered_bytes ||
         pending_.size() > limits_.max_buffered_segments) {
    ++counters_->buffer_overflows;
    ShedOldestHole(ts_ns, out);
  }
}

void Reassembler::ShedOldestHole(int64_t ts_ns, StreamConsumer& out) {
  if (!pending_.empty()) {
    SkipTo(pending_.front().offset, ts_ns, out);
    DrainPending(out);
  }
  // Real bytes can empty it of missing-byte runs (ForgetMissing) without a delivery.
  if (pending_.empty()) std::vector<Pending>().swap(pending_);
}

bool Reassembler::Lacks(uint32_t ack) const {
  if (!started_) return false;
  const uint32_t ahead = ack - next_seq();
  // The FIN takes a sequence number but carries no byte.
  return ahead != 0 && ahead < kMaxAckAhead && next_ < fin_offset_;
}

void Reassembler::OnPeerAck(uint32_t ack, int64_t ts_ns, StreamConsumer& out) {
  if (!started_) return;
  const uint32_t ahead = ack - next_seq();
  if (ahead == 0 || ahead >= kMaxAckAhead) return;
  // The FIN takes a sequence number but carries no byte.
  const uint64_t acked = std::min(next_ + ahead, fin_offset_);
  while (next_ < acked) {
    SkipTo(pending_.empty() ? acked : std::min(acked, pending_.front().offset), ts_ns, out);
    DrainPending(out);
  }
}

void Reassembler::Flush(int64_t ts_ns, StreamConsumer& out) {
  while (held_bytes() != 0) ShedOldestHole(ts_ns, out);
}

void Reassembler::SkipTo(uint64_t offset, int64_t ts_ns, StreamConsumer& out) {
  if (offset <= next_) return;
  Gap(offset - next_, ts_ns, out);
  next_ = offset;
}

void Reassembler::Gap(uint64_t bytes, int64_t ts_ns, StreamConsumer& out) {
  ++counters_->gaps;
  counters_->gap_bytes += bytes;
  out.OnGap(bytes, ts_ns);
}

}  // namespace resptrace

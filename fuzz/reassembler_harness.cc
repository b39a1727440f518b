// Input: an options byte, then segments, each a flags byte, a control byte, the sequence and
// acknowledgement numbers (32-bit little-endian), and the payload length (16-bit); with the
// collector, the payload's bytes follow (fewer when the input ends first).
#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "fuzz_harness.h"
#include "fuzz_input.h"
#include "record_checker.h"
#include "resptrace/collector.h"
#include "resptrace/reassembler.h"

namespace resptrace {
namespace {

// The options byte.
constexpr uint8_t kCollector = 0x01;     // a Collector rather than one Reassembler
constexpr uint8_t kTinyBuffers = 0x02;   // out-of-order limits the input can reach
constexpr uint8_t kNoValues = 0x04;      // collector: keep_values off, nothing printed (-o none)
constexpr uint8_t kFewPending = 0x08;    // collector: a small --max-pending
constexpr uint8_t kSmallLimits = 0x10;   // collector: parser limits the input can reach

// The flags byte: TCP's flags in its low five bits (tcp_flags), then for one Reassembler:
constexpr uint8_t kPeerAck = 0x20;  // the peer's acknowledgement, no segment of this direction
constexpr uint8_t kCut = 0x40;      // the snaplen cut the payload in half
constexpr uint8_t kFlush = 0x80;    // the stream ends after it
// and for the collector:
constexpr uint8_t kFromServer = 0x20;
constexpr uint8_t kSecondConnection = 0x40;
constexpr uint8_t kSecondInterface = 0x80;
// The collector's control byte: time steps in its low six bits, then
constexpr uint8_t kCutCollected = 0x40;  // the snaplen cut the payload in half
constexpr uint8_t kTick = 0x80;          // the clock is read after the segment

constexpr uint8_t kTcpFlags = 0x1f;

// The byte a sender puts at sequence number `seq`: every copy of a byte is the same, so
// every byte delivered can be checked.
char Pattern(uint32_t seq) { return static_cast<char>((seq * 2654435761u) >> 24); }

// Checks each delivery against the pattern and keeps count of what came.
class CheckingConsumer final : public StreamConsumer {
 public:
  void OnData(std::string_view bytes, int64_t, std::optional<uint32_t>) override {
    for (size_t i = 0; i < bytes.size() && failure.empty(); ++i) {
      if (bytes[i] != Pattern(isn + static_cast<uint32_t>(offset + i))) {
        failure = absl::StrCat("wrong byte delivered at stream offset ", offset + i);
      }
    }
    offset += bytes.size();
    data += bytes.size();
  }
  void OnGap(uint64_t bytes, int64_t) override { offset += bytes; }

  uint32_t isn = 0;     // sequence number of stream offset 0
  uint64_t offset = 0;  // bytes delivered and declared missing
  uint64_t data = 0;    // bytes delivered
  std::string failure;
};

absl::Status FuzzOneReassembler(uint8_t options, FuzzInput& in) {
  ReassemblerLimits limits;
  if (options & kTinyBuffers) {
    limits.max_buffered_bytes = 200;
    limits.max_buffered_segments = 4;
  }
  ReassemblyCounters counters;
  Reassembler r(limits, &counters);
  CheckingConsumer out;
  uint64_t captured = 0;  // payload bytes pushed
  std::string payload;
  int64_t ts = 0;
  // Every byte is made and checked: past this many the input is not read further.
  constexpr uint64_t kMaxPayloadBytes = 256 << 10;
  for (int step = 0; !in.empty() && captured < kMaxPayloadBytes; ++step) {
    const uint8_t flags = in.U8();
    ts += in.U8();
    Segment seg;
    seg.ts_ns = ts;
    seg.flags = flags & kTcpFlags;
    seg.seq = in.U32();
    seg.ack = in.U32();
    seg.payload_len = in.U16();
    const uint64_t before = r.next_offset();
    if (flags & kPeerAck) {
      r.OnPeerAck(seg.ack, ts, out);
    } else {
      const uint32_t data_seq = seg.seq + (seg.has(tcp_flags::kSyn) ? 1 : 0);
      payload.resize(flags & kCut ? seg.payload_len / 2 : seg.payload_len);
      for (size_t i = 0; i < payload.size(); ++i) payload[i] = Pattern(data_seq + static_cast<uint32_t>(i));
      seg.payload = payload;
      captured += payload.size();
      if (!r.started()) out.isn = r.OffsetZeroSeq(seg);
      r.Push(seg, out);
    }
    if (flags & kFlush) {
      r.Flush(ts, out);
      if (r.buffered_bytes() != 0) return absl::InternalError("bytes held after a flush");
    }
    const std::string at = absl::StrCat("segment ", step, ": ");
    if (!out.failure.empty()) return absl::InternalError(at + out.failure);
    if (out.offset != r.next_offset()) {
      return absl::InternalError(absl::StrCat(at, out.offset, " bytes reached the consumer, ",
                                              r.next_offset(), " by the reassembler's count"));
    }
    // A stream moves on by at most half the sequence space, and a segment, at once.
    if (r.next_offset() - before > (uint64_t{1} << 31) + 0xffff) {
      return absl::InternalError(absl::StrCat(at, "the stream jumped ", r.next_offset() - before, " bytes"));
    }
    if (out.data > captured || counters.bytes_delivered != out.data) {
      return absl::InternalError(absl::StrCat(at, out.data, " bytes delivered (", counters.bytes_delivered,
                                              " counted) of ", captured, " captured"));
    }
    if (r.buffered_bytes() > limits.max_buffered_bytes) {
      return absl::InternalError(absl::StrCat(at, r.buffered_bytes(), " bytes held out of order"));
    }
  }
  r.Flush(ts, out);
  if (r.buffered_bytes() != 0) return absl::InternalError("bytes held after the last flush");
  if (out.offset != r.next_offset()) return absl::InternalError("the last flush miscounted");
  return absl::OkStatus();
}

absl::Status FuzzCollector(uint8_t options, FuzzInput& in) {
  CollectorOptions co;
  co.idle_timeout_ns = 2'000'000'000;
  if (options & kTinyBuffers) {
    co.max_flow_bytes = 200;
    co.max_buffered_bytes = 600;
    co.max_flows = 3;
  }
  co.session.message.keep_values = (options & kNoValues) == 0;
  if (options & kFewPending) co.session.max_pending = 3;
  if (options & kSmallLimits) {
    co.resp.max_depth = 4;
    co.resp.max_aggregate_len = 40;
    co.resp.max_request_multibulk_len = 20;
    co.resp.max_bulk_len = 300;
    co.resp.max_inline_len = 40;
    co.resp.max_line_len = 40;
  }
  // Bytes reordered by the reassembler carry their own segment's time: latencies may be
  // negative when the input sends a reply before its request.
  RecordChecker sink(Redaction::kSecrets, /*ordered_ts=*/false,
                     /*printed=*/co.session.message.keep_values);
  Collector collector(co, &sink);
  const IpAddress client_addr = IpAddress::V4(reinterpret_cast<const uint8_t*>("\x0a\x00\x00\x01"));
  const IpAddress server_addr = IpAddress::V4(reinterpret_cast<const uint8_t*>("\x0a\x00\x00\x02"));
  const Endpoint server{server_addr, 6379};
  uint64_t captured = 0;
  int64_t ts = 1'700'000'000'000'000'000;
  for (int step = 0; !in.empty(); ++step) {
    const uint8_t flags = in.U8();
    const uint8_t control = in.U8();
    ts += int64_t{control & 0x3f} * 100'000'000;
    const Endpoint client{client_addr, static_cast<uint16_t>(flags & kSecondConnection ? 50001 : 50000)};
    Segment seg;
    seg.ts_ns = ts;
    seg.flow = flags & kFromServer ? FlowKey{server, client} : FlowKey{client, server};
    seg.flags = flags & kTcpFlags;
    seg.seq = in.U32();
    seg.ack = in.U32();
    seg.payload_len = in.U16();
    seg.payload = in.Bytes(seg.payload_len);
    if (control & kCutCollected) seg.payload = seg.payload.substr(0, seg.payload.size() / 2);
    seg.wire_len = 54 + seg.payload_len;
    seg.ifindex = flags & kSecondInterface ? 2 : 1;
    captured += seg.payload.size();
    collector.OnSegment(seg);
    if (control & kTick) collector.Tick(ts);
    const CollectorCounters& c = collector.counters();
    if (c.reassembly.bytes_delivered > captured) {
      return absl::InternalError(absl::StrCat("segment ", step, ": ", c.reassembly.bytes_delivered,
                                              " bytes delivered of ", captured, " captured"));
    }
    if (collector.active_connections() > 2) {
      return absl::InternalError(absl::StrCat(collector.active_connections(), " connections of 2"));
    }
  }
  collector.Finish();
  if (collector.active_connections() != 0) return absl::InternalError("connections left after Finish");
  const SessionCounters& s = collector.counters().session;
  if (s.replies != sink.answered() || s.replies + s.unanswered != sink.commands() ||
      s.pushes != sink.pushes()) {
    sink.Fail(absl::StrCat("counters say ", s.replies, " replies, ", s.unanswered, " unanswered, ",
                           s.pushes, " pushes; the records ", sink.answered(), ", ",
                           sink.commands() - sink.answered(), ", ", sink.pushes()));
  }
  // Gap records say no more was lost than the reassemblers found missing.
  if (sink.gap_bytes() > collector.counters().reassembly.gap_bytes) {
    sink.Fail(absl::StrCat("gap records of ", sink.gap_bytes(), " bytes, of ",
                           collector.counters().reassembly.gap_bytes, " missing"));
  }
  return sink.Finish();
}

}  // namespace

absl::Status FuzzReassembler(std::string_view input) {
  FuzzInput in(input);
  const uint8_t options = in.U8();
  return options & kCollector ? FuzzCollector(options, in) : FuzzOneReassembler(options, in);
}

}  // namespace resptrace

#include "resptrace/stats.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"

namespace resptrace {
namespace {

std::vector<std::pair<const char*, uint64_t>> AnomalyCounters(const Summary& s) {
  const CollectorCounters& c = s.collector;
  return {
      {"malformed frames", s.capture.malformed},
      {"frames cut inside headers", s.capture.truncated_headers},
      {"IP fragments skipped", s.capture.ip_fragments},
      {"segments cut by the snaplen", s.capture.snaplen_cut},
      {"connections not speaking RESP", c.session.not_resp},
      {"invalid requests", c.session.request_errors},
      {"invalid replies", c.session.reply_errors},
      {"replies nested past --max-depth", c.session.too_deep},
      {"replies without a command", c.session.orphan_replies},
      {"connections out of step", c.session.desyncs},
      {"commands pending past --max-pending", c.session.pending_overflows},
      {"transactions past --max-pending, not linked", c.session.transaction_overflows},
      {"commands out of step past --max-unproven", c.session.unproven_overflows},
      {"streams that ended inside a message", c.cut_messages},
      {"holes given up at 1024 segments held out of order", c.reassembly.buffer_overflows},
      {"connections past --max-flow-bytes", c.flow_bytes_hits},
      {"connections emptied at --max-buffered-bytes", c.total_bytes_hits},
      {"connections evicted at --max-flows", c.evictions},
  };
}

}  // namespace

uint64_t Summary::anomalies() const {
  uint64_t n = 0;
  for (const auto& [name, v] : AnomalyCounters(*this)) n += v;
  return n;
}

std::string FormatSummary(const Summary& s) {
  const CollectorCounters& c = s.collector;
  std::string out = absl::StrCat(
      "resptrace: ", s.capture.packets, " packets, ", c.flows, " flows, ", c.session.commands,
      " commands, ", c.session.replies, " replies, ", c.session.unanswered, " unanswered, ",
      c.session.pushes, " pushes, ", s.anomalies(), " anomalies, ", c.reassembly.gaps, " gaps (",
      c.reassembly.gap_bytes, " bytes)\n");
  for (const auto& [name, v] : AnomalyCounters(s)) {
    if (v != 0) absl::StrAppend(&out, "  ", name, ": ", v, "\n");
  }
  const ErrorCounts& errors = c.session.errors;
  if (errors.prefixes != 0 || errors.other != 0) {
    // The most frequent first.
    std::vector<const ErrorCounts::Entry*> by_count;
    for (size_t i = 0; i < errors.prefixes; ++i) by_count.push_back(&errors.by_prefix[i]);
    std::stable_sort(by_count.begin(), by_count.end(),
                     [](const auto* a, const auto* b) { return a->count > b->count; });
    absl::StrAppend(&out, "  error replies:");
    const char* separator = " ";
    for (const ErrorCounts::Entry* e : by_count) {
      absl::StrAppend(&out, separator, e->count, " ");
      out.append(e->name());
      separator = ", ";
    }
    if (errors.other != 0) absl::StrAppend(&out, separator, errors.other, " other");
    out.push_back('\n');
  }
  const SessionCounters& n = c.session;
  if (n.joined + n.realigned + n.join_skipped != 0) {
    // Not anomalies: a trace started on a busy server joins every connection it finds.
    absl::StrAppend(&out, "  mid-stream: ", n.joined, " connections joined, ", n.realigned,
                    " times proven in step, ", n.join_skipped,
                    " requests skipped before a known command\n");
  }
  if (n.values_cut + n.aggregates_cut != 0) {
    // Not anomalies: the records keep what the flags say, and mark what they left out.
    absl::StrAppend(&out, "  cut in records: ", n.values_cut, " values past --max-value-bytes, ",
                    n.aggregates_cut, " aggregates past --max-elements\n");
  }
  const ReassemblyCounters& r = c.reassembly;
  if (r.out_of_order + r.retransmitted + r.overlapping + c.second_interface_copies != 0) {
    absl::StrAppend(&out, "  tcp: ", r.out_of_order, " out of order, ", r.retransmitted,
                    " retransmitted, ", r.overlapping, " overlapping, ",
                    c.second_interface_copies, " duplicates from a second interface\n");
  }
  return out;
}

}  // namespace resptrace

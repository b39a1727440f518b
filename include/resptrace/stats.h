// The end-of-run summary: what was read, what was decoded, and every anomaly counted.
#ifndef RESPTRACE_STATS_H_
#define RESPTRACE_STATS_H_

#include <cstdint>
#include <string>

#include "resptrace/capture_reader.h"
#include "resptrace/collector.h"

namespace resptrace {

struct Summary {
  CaptureCounters capture;
  CollectorCounters collector;

  // Everything that did not decode as it should: the sum of the anomaly counters.
  uint64_t anomalies() const;
};

// "resptrace: 150 packets, 15 flows, 14 commands, ...", then one line per non-zero
// anomaly counter with its name.
std::string FormatSummary(const Summary& s);

}  // namespace resptrace

#endif  // RESPTRACE_STATS_H_

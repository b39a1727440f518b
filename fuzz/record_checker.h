// A sink for the fuzz harnesses: checks each record against what record.h and message.h
// promise, then writes it through the JSON and text sinks, and at the end checks that every
// JSON line parses.
#ifndef RESPTRACE_FUZZ_RECORD_CHECKER_H_
#define RESPTRACE_FUZZ_RECORD_CHECKER_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "resptrace/json_sink.h"
#include "resptrace/record.h"
#include "resptrace/redaction.h"
#include "resptrace/text_sink.h"

namespace resptrace {

class RecordChecker final : public RecordSink {
 public:
  // `ordered_ts`: the input's timestamps never go back, so no latency may be negative.
  // `printed`: the records go to the sinks too; false as with -o none, whose records keep no
  // values (MessageLimits::keep_values), which no sink is given.
  RecordChecker(Redaction redaction, bool ordered_ts, bool printed = true);
  ~RecordChecker() override;

  void Write(const Record& r) override;
  absl::Status Flush() override;

  // Records a broken promise found by the harness itself; the first one is kept.
  void Fail(std::string why);
  // Flushes the sinks and checks their output; returns the first broken promise.
  absl::Status Finish();

  uint64_t commands() const { return commands_; }
  uint64_t answered() const { return answered_; }
  uint64_t pushes() const { return pushes_; }
  uint64_t gap_bytes() const { return gap_bytes_; }  // what the gap records say was lost

 private:
  void Check(const Record& r);

  // The sinks and the JSON sink's output, one set per redaction for the whole process:
  // making a sink maps its buffer, which took most of a small input's time.
  struct Outputs;
  static Outputs& OutputsFor(Redaction redaction);

  bool ordered_ts_;
  Outputs* out_;  // null when not printed
  absl::Status status_;
  uint64_t commands_ = 0;
  uint64_t answered_ = 0;
  uint64_t pushes_ = 0;
  uint64_t gaps_ = 0;
  uint64_t gap_bytes_ = 0;
};

}  // namespace resptrace

#endif  // RESPTRACE_FUZZ_RECORD_CHECKER_H_

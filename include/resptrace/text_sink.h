// Human-readable records, one line per command:
//   HH:MM:SS.uuuuuu client -> server CMD arg1 arg2 -> reply (0.092 ms)
#ifndef RESPTRACE_TEXT_SINK_H_
#define RESPTRACE_TEXT_SINK_H_

#include <cstdint>
#include <cstdio>
#include <string>

#include "resptrace/output_buffer.h"
#include "resptrace/record.h"
#include "resptrace/redaction.h"

namespace resptrace {

class TextSink final : public RecordSink {
 public:
  // Writes to `out` (not owned). Times are local time (TZ applies).
  explicit TextSink(std::FILE* out, Redaction redaction = Redaction::kSecrets);
  ~TextSink() override;
  void Write(const Record& record) override;
  absl::Status Flush() override;

 private:
  void AppendClock(std::string& out, int64_t ts_ns);

  OutputBuffer out_;
  std::string line_;  // the line being written; its capacity is kept
  bool redact_values_;
  VisibleArgs visible_;  // with redact_values_: the record's arguments that are shown
  int64_t clock_second_ = INT64_MIN;  // the second clock_text_ shows
  char clock_text_[16] = {};          // "HH:MM:SS."
};

}  // namespace resptrace

#endif  // RESPTRACE_TEXT_SINK_H_

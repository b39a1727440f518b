// JSON lines: one object per record. The schema is in docs/records.md.
#ifndef RESPTRACE_JSON_SINK_H_
#define RESPTRACE_JSON_SINK_H_

#include <cstdio>
#include <string>

#include "resptrace/output_buffer.h"
#include "resptrace/record.h"
#include "resptrace/redaction.h"

namespace resptrace {

class JsonSink final : public RecordSink {
 public:
  explicit JsonSink(std::FILE* out, Redaction redaction = Redaction::kSecrets);
  ~JsonSink() override;
  void Write(const Record& record) override;
  absl::Status Flush() override;

 private:
  OutputBuffer out_;
  std::string scratch_;  // the upper-cased command name
  bool redact_values_;
  VisibleArgs visible_;  // with redact_values_: the record's arguments that are shown
};

}  // namespace resptrace

#endif  // RESPTRACE_JSON_SINK_H_

// A sink that writes nothing: the "-o none" mode, where only the summary's counts matter.
#ifndef RESPTRACE_NULL_SINK_H_
#define RESPTRACE_NULL_SINK_H_

#include "resptrace/record.h"

namespace resptrace {

class NullSink final : public RecordSink {
 public:
  void Write(const Record&) override {}
  absl::Status Flush() override { return absl::OkStatus(); }
};

}  // namespace resptrace

#endif  // RESPTRACE_NULL_SINK_H_

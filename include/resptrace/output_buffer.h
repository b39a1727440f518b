// Buffered writes of records to a FILE*, remembering the first write failure so that a full
// disk or a closed pipe is reported instead of silently losing records.
#ifndef RESPTRACE_OUTPUT_BUFFER_H_
#define RESPTRACE_OUTPUT_BUFFER_H_

#include <cstdio>
#include <string>

#include "absl/status/status.h"

namespace resptrace {

class OutputBuffer {
 public:
  explicit OutputBuffer(std::FILE* out);

  // Where the next record is appended.
  std::string& text() { return buf_; }
  // Writes out once enough has gathered; cheap to call after every record. A failure is
  // kept and returned by the next Flush().
  void MaybeFlush() {
    if (buf_.size() >= kFlushAt) Flush().IgnoreError();
  }
  // Writes everything gathered. Fails, now and on every later call, once a write failed.
  absl::Status Flush();

 private:
  static constexpr size_t kFlushAt = 1 << 20;
  std::FILE* out_;
  std::string buf_;
  absl::Status status_;
};

}  // namespace resptrace

#endif  // RESPTRACE_OUTPUT_BUFFER_H_

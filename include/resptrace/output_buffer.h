// Buffered writes of records to a FILE*, remembering the first write failure so that a full
// disk or a closed pipe is reported instead of silently losing records.
#ifndef RESPTRACE_OUTPUT_BUFFER_H_
#define RESPTRACE_OUTPUT_BUFFER_H_

#include <cstdio>
#include <memory>
#include <string_view>

#include "absl/status/status.h"

namespace resptrace {

class OutputBuffer {
 public:
  explicit OutputBuffer(std::FILE* out);

  // Room for at least `n` more bytes at the returned pointer (writing out what gathered
  // first when needed). A sink that knows a bound of its record's size writes it there
  // with plain stores, then calls Commit with the end of what it wrote.
  char* Reserve(size_t n);
  void Commit(char* end) { len_ = static_cast<size_t>(end - buf_.get()); }
  void Append(std::string_view s);

  // Writes out once enough has gathered; cheap to call after every record. A failure is
  // kept and returned by the next Flush().
  void MaybeFlush() {
    if (len_ >= kFlushAt) Flush().IgnoreError();
  }
  // Writes everything gathered. Fails, now and on every later call, once a write failed.
  absl::Status Flush();

 private:
  static constexpr size_t kFlushAt = 1 << 20;
  std::FILE* out_;
  std::unique_ptr<char[]> buf_;
  size_t cap_;
  size_t len_ = 0;
  absl::Status status_;
};

}  // namespace resptrace

#endif  // RESPTRACE_OUTPUT_BUFFER_H_

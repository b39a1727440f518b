#include "resptrace/output_buffer.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace resptrace {

OutputBuffer::OutputBuffer(std::FILE* out)
    : out_(out), buf_(new char[2 * kFlushAt]), cap_(2 * kFlushAt) {}

char* OutputBuffer::Reserve(size_t n) {
  if (len_ + n > cap_) {
    Flush().IgnoreError();  // kept in status_ for the caller's next Flush()
    if (n > cap_) {
      buf_.reset(new char[n]);
      cap_ = n;
    }
  }
  return buf_.get() + len_;
}

void OutputBuffer::Append(std::string_view s) {
  char* p = Reserve(s.size());
  std::memcpy(p, s.data(), s.size());
  Commit(p + s.size());
}

absl::Status OutputBuffer::Flush() {
  const size_t len = len_;
  len_ = 0;
  if (!status_.ok()) return status_;
  errno = 0;
  const size_t written = len == 0 ? 0 : std::fwrite(buf_.get(), 1, len, out_);
  if (written != len || std::fflush(out_) != 0) {
    status_ = absl::UnavailableError(absl::StrCat(
        "cannot write records: ", errno != 0 ? std::strerror(errno) : "short write",
        " (is the disk full, or the reading end of the pipe closed?)"));
  }
  return status_;
}

}  // namespace resptrace

#include "resptrace/output_buffer.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace resptrace {

OutputBuffer::OutputBuffer(std::FILE* out) : out_(out) { buf_.reserve(kFlushAt + 4096); }

absl::Status OutputBuffer::Flush() {
  if (!status_.ok()) {
    buf_.clear();
    return status_;
  }
  errno = 0;
  const size_t written = buf_.empty() ? 0 : std::fwrite(buf_.data(), 1, buf_.size(), out_);
  const bool short_write = written != buf_.size();
  buf_.clear();
  if (short_write || std::fflush(out_) != 0) {
    status_ = absl::UnavailableError(absl::StrCat(
        "cannot write records: ", errno != 0 ? std::strerror(errno) : "short write",
        " (is the disk full, or the reading end of the pipe closed?)"));
  }
  return status_;
}

}  // namespace resptrace

// What each libFuzzer target does with an input: runs its harness, and aborts on a broken
// promise so that libFuzzer keeps the input as a crash.
#ifndef RESPTRACE_FUZZ_TARGET_H_
#define RESPTRACE_FUZZ_TARGET_H_

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "fuzz_harness.h"

namespace resptrace {

inline int RunFuzzTarget(absl::Status (*harness)(std::string_view), const uint8_t* data,
                         size_t size) {
  const absl::Status s = harness(std::string_view(reinterpret_cast<const char*>(data), size));
  if (!s.ok()) {
    std::fprintf(stderr, "broken promise: %s\n", s.ToString().c_str());
    std::abort();
  }
  return 0;
}

}  // namespace resptrace

#endif  // RESPTRACE_FUZZ_TARGET_H_

// libFuzzer target for FuzzRespParser (fuzz_harness.h).
#include "fuzz_target.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return resptrace::RunFuzzTarget(resptrace::FuzzRespParser, data, size);
}

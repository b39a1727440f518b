// The fuzz targets' bodies: each takes one input and checks what the modules it drives
// promise. The libFuzzer targets (*_fuzz.cc) call them, and so does the test that replays
// every input the fuzzers ever found (tests/fuzz_regressions_test.cc). A broken promise is
// an error naming it; sanitizers catch the rest.
#ifndef RESPTRACE_FUZZ_HARNESS_H_
#define RESPTRACE_FUZZ_HARNESS_H_

#include <string_view>

#include "absl/status/status.h"

namespace resptrace {

// Chunks of a client and a server stream, through RespParsers in both roles, split as the
// input says and whole, and through a Session whose records go to the JSON and text sinks.
absl::Status FuzzRespParser(std::string_view input);

// Segments (sequence numbers, flags, lengths) through a Reassembler, whose bytes are checked
// against what was sent, or through a Collector with the input's payloads.
absl::Status FuzzReassembler(std::string_view input);

// The input as a pcap or pcapng file: CaptureReader, PacketDecoder and Collector end to end.
absl::Status FuzzCaptureReader(std::string_view input);

}  // namespace resptrace

#endif  // RESPTRACE_FUZZ_HARNESS_H_

// Command-line options.
#ifndef RESPTRACE_OPTIONS_H_
#define RESPTRACE_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "resptrace/collector.h"

namespace resptrace {

enum class OutputFormat : uint8_t { kText, kJson, kNone };

// Where live packets come from. Only libpcap exists yet: tc and xdp fall back to it.
enum class Backend : uint8_t { kTc, kXdp, kPcap };
const char* BackendName(Backend b);

struct Options {
  std::string read_file;  // -r; "-" is stdin. Empty: capture live.
  std::string interface = "any";  // -i
  Backend backend = Backend::kTc;
  std::string write_file;     // -w: also save the capture there
  uint64_t max_commands = 0;  // -c: stop after this many commands; 0 = no limit
  int64_t duration_ns = 0;    // --duration: stop after this long; 0 = until stopped
  uint32_t snaplen = 0;       // --snaplen: bytes kept per segment (eBPF) or frame (pcap); 0 = default
  uint32_t buffer_mib = 0;    // --buffer-mb: the kernel buffer's size; 0 = the backend's default
  OutputFormat format = OutputFormat::kText;
  bool redact_values = false;  // --redact-values: records hide values, not only secrets
  CollectorOptions collector;
  bool help = false;
  bool version = false;
};

// Parses argv. Errors name the flag and the value that is wrong.
absl::StatusOr<Options> ParseOptions(int argc, char** argv);
std::string UsageText();

}  // namespace resptrace

#endif  // RESPTRACE_OPTIONS_H_

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

struct Options {
  std::string read_file;  // -r; "-" is stdin
  OutputFormat format = OutputFormat::kText;
  CollectorOptions collector;
  bool help = false;
  bool version = false;
};

// Parses argv. Errors name the flag and the value that is wrong.
absl::StatusOr<Options> ParseOptions(int argc, char** argv);
std::string UsageText();

}  // namespace resptrace

#endif  // RESPTRACE_OPTIONS_H_

// resptrace: Redis (RESP) traffic, command by command, from the wire.
#include <cstdio>
#include <memory>

#include "resptrace/capture_reader.h"
#include "resptrace/collector.h"
#include "resptrace/json_sink.h"
#include "resptrace/null_sink.h"
#include "resptrace/options.h"
#include "resptrace/stats.h"
#include "resptrace/text_sink.h"

namespace {

std::unique_ptr<resptrace::RecordSink> MakeSink(resptrace::OutputFormat f) {
  switch (f) {
    case resptrace::OutputFormat::kJson: return std::make_unique<resptrace::JsonSink>(stdout);
    case resptrace::OutputFormat::kNone: return std::make_unique<resptrace::NullSink>();
    case resptrace::OutputFormat::kText: break;
  }
  return std::make_unique<resptrace::TextSink>(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<resptrace::Options> options = resptrace::ParseOptions(argc, argv);
  if (!options.ok()) {
    std::fprintf(stderr, "resptrace: %s\n", std::string(options.status().message()).c_str());
    return 2;
  }
  if (options->help) {
    std::fputs(resptrace::UsageText().c_str(), stdout);
    return 0;
  }
  if (options->version) {
    std::puts("resptrace " RESPTRACE_VERSION);
    return 0;
  }
  auto reader = resptrace::CaptureReader::Open(options->read_file);
  if (!reader.ok()) {
    std::fprintf(stderr, "resptrace: %s\n", std::string(reader.status().message()).c_str());
    return 1;
  }
  std::unique_ptr<resptrace::RecordSink> sink = MakeSink(options->format);
  resptrace::Collector collector(options->collector, sink.get());
  // Records decoded before any damage in the file are still written.
  absl::Status read = (*reader)->ReadAll(
      [&collector](const resptrace::Segment& seg) { collector.OnSegment(seg); });
  collector.Finish();
  const absl::Status written = sink->Flush();
  resptrace::Summary summary{(*reader)->counters(), collector.counters()};
  std::fputs(resptrace::FormatSummary(summary).c_str(), stderr);
  int rc = 0;
  for (const absl::Status& s : {read, written}) {
    if (s.ok()) continue;
    std::fprintf(stderr, "resptrace: %s\n", std::string(s.message()).c_str());
    rc = 1;
  }
  return rc;
}

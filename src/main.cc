// resptrace: Redis (RESP) traffic, command by command, from the wire.
#include <algorithm>
#include <bit>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#ifdef RESPTRACE_HAVE_EBPF
#include "resptrace/bpf_capture.h"
#endif
#include "resptrace/capture_reader.h"
#include "resptrace/collector.h"
#include "resptrace/json_sink.h"
#include "resptrace/live_capture.h"
#include "resptrace/null_sink.h"
#include "resptrace/options.h"
#include "resptrace/pcap_writer.h"
#include "resptrace/stats.h"
#include "resptrace/text_sink.h"

namespace {

using resptrace::Options;
using resptrace::RecordSink;

std::unique_ptr<RecordSink> MakeSink(const Options& o) {
  const resptrace::Redaction redaction =
      o.redact_values ? resptrace::Redaction::kValues : resptrace::Redaction::kSecrets;
  switch (o.format) {
    case resptrace::OutputFormat::kJson:
      return std::make_unique<resptrace::JsonSink>(stdout, redaction);
    case resptrace::OutputFormat::kNone: return std::make_unique<resptrace::NullSink>();
    case resptrace::OutputFormat::kText: break;
  }
  return std::make_unique<resptrace::TextSink>(stdout, redaction);
}

void PrintError(const absl::Status& s) {
  std::fprintf(stderr, "resptrace: %s\n", std::string(s.message()).c_str());
}

// -c: passes on the first `max` command records (and the pushes among them), then calls
// `reached` once and drops the rest, so that exactly `max` commands are printed.
class CommandLimit final : public RecordSink {
 public:
  CommandLimit(RecordSink* next, uint64_t max, std::function<void()> reached)
      : next_(next), max_(max), reached_(std::move(reached)) {}
  void Write(const resptrace::Record& record) override {
    if (commands_ == max_) return;
    next_->Write(record);
    if (record.kind == resptrace::RecordKind::kCommand && ++commands_ == max_) reached_();
  }
  absl::Status Flush() override { return next_->Flush(); }

 private:
  RecordSink* next_;
  uint64_t max_;
  std::function<void()> reached_;
  uint64_t commands_ = 0;
};

// Records go to `sink`, or through a CommandLimit in front of it when -c was given.
struct SinkChain {
  SinkChain(const Options& o, std::function<void()> limit_reached) : sink(MakeSink(o)) {
    if (o.max_commands != 0) {
      limit = std::make_unique<CommandLimit>(sink.get(), o.max_commands, std::move(limit_reached));
    }
  }
  RecordSink* head() { return limit ? limit.get() : sink.get(); }
  std::unique_ptr<RecordSink> sink;
  std::unique_ptr<CommandLimit> limit;
};

// The -w writer for sources that have segments, not frames; none without -w.
absl::StatusOr<std::unique_ptr<resptrace::PcapWriter>> SegmentWriter(const Options& options) {
  if (options.write_file.empty()) return std::unique_ptr<resptrace::PcapWriter>();
  return resptrace::PcapWriter::ForSegments(options.write_file);
}

int ReadFile(const Options& options) {
  auto reader = resptrace::CaptureReader::Open(options.read_file);
  if (!reader.ok()) {
    PrintError(reader.status());
    return 1;
  }
  auto segment_writer = SegmentWriter(options);
  if (!segment_writer.ok()) {
    PrintError(segment_writer.status());
    return 1;
  }
  std::unique_ptr<resptrace::PcapWriter> writer = *std::move(segment_writer);
  // A file cannot be stopped early: after -c's limit the rest is read but not printed.
  SinkChain sinks(options, [] {});
  resptrace::Collector collector(options.collector, sinks.head());
  // Records decoded before any damage in the file are still written.
  absl::Status read = (*reader)->ReadAll([&](const resptrace::Segment& seg) {
    if (writer) writer->WriteSegment(seg);
    collector.OnSegment(seg);
  });
  collector.Finish();
  const absl::Status written = sinks.head()->Flush();
  const absl::Status saved = writer ? writer->Close() : absl::OkStatus();
  resptrace::Summary summary{(*reader)->counters(), collector.counters()};
  std::fputs(resptrace::FormatSummary(summary).c_str(), stderr);
  int rc = 0;
  for (const absl::Status& s : {read, written, saved}) {
    if (s.ok()) continue;
    PrintError(s);
    rc = 1;
  }
  return rc;
}

// What a SIGINT or SIGTERM stops: a live source's Stop(), which is async-signal-safe.
void (*g_stop)(void*) = nullptr;
void* g_stop_arg = nullptr;

extern "C" void StopCapture(int) {
  if (g_stop != nullptr) g_stop(g_stop_arg);
}

int64_t WallClockNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Runs a live source (LiveCapture or BpfCapture) into the collector until it is stopped
// (Ctrl-C, SIGTERM, -c, --duration, a failed write), then prints the summary. `capturing`
// names what is captured, `capture` gives the summary's capture counters, `report` the
// source's own losses.
template <typename Source>
int RunLive(const Options& options, const std::string& capturing, Source& source,
            resptrace::PcapWriter* writer,
            const std::function<resptrace::CaptureCounters()>& capture,
            const std::function<absl::Status()>& report) {
  SinkChain sinks(options, [&source] { source.Stop(); });
  resptrace::Collector collector(options.collector, sinks.head());

  g_stop = [](void* s) { static_cast<Source*>(s)->Stop(); };
  g_stop_arg = &source;
  struct sigaction action = {};
  action.sa_handler = StopCapture;
  // A second Ctrl-C kills, should stopping ever hang.
  action.sa_flags = SA_RESETHAND;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // Tests and scripts wait for this line: from here on, every packet is captured, and a
  // SIGINT or SIGTERM stops the capture with its summary rather than killing the process.
  std::fprintf(stderr, "resptrace: capturing on %s\n", capturing.c_str());

  const int64_t deadline_ns = options.duration_ns == 0 ? 0 : WallClockNs() + options.duration_ns;
  absl::Status run = source.Run(
      [&](const resptrace::Segment& seg) {
        if (writer != nullptr && writer->saves_segments()) writer->WriteSegment(seg);
        collector.OnSegment(seg);
      },
      [&](int64_t now_ns) {
        if (deadline_ns != 0 && now_ns >= deadline_ns) source.Stop();
        collector.Tick(now_ns);
        // Someone may be watching: what was decoded shows up within a tick. A failed write
        // ends the capture; the failure is reported by the final flush and close.
        const bool records_ok = sinks.head()->Flush().ok();
        const bool frames_ok = writer == nullptr || writer->Flush().ok();
        if (!records_ok || !frames_ok) source.Stop();
      });
  g_stop = nullptr;
  action.sa_handler = SIG_DFL;
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  collector.Finish();
  const absl::Status written = sinks.head()->Flush();
  const absl::Status saved = writer != nullptr ? writer->Close() : absl::OkStatus();
  resptrace::Summary summary{capture(), collector.counters()};
  std::fputs(resptrace::FormatSummary(summary).c_str(), stderr);
  const absl::Status reported = report();
  int rc = 0;
  for (const absl::Status& s : {run, written, saved, reported}) {
    if (s.ok()) continue;
    PrintError(s);
    rc = 1;
  }
  return rc;
}


int CaptureWithPcap(const Options& options) {
  resptrace::LiveCaptureOptions live;
  live.interface = options.interface;
  live.server_ports = options.collector.server_ports;
  if (options.snaplen != 0) live.snaplen = static_cast<int>(options.snaplen);
  if (options.buffer_mib != 0) live.buffer_bytes = static_cast<int>(options.buffer_mib << 20);
  auto capture = resptrace::LiveCapture::Open(live);
  if (!capture.ok()) {
    PrintError(capture.status());
    return 1;
  }
  resptrace::LiveCapture& source = **capture;
  std::unique_ptr<resptrace::PcapWriter> writer;
  if (!options.write_file.empty()) {
    auto w = resptrace::PcapWriter::ForFrames(options.write_file, source.link_type(),
                                              source.snaplen());
    if (!w.ok()) {
      PrintError(w.status());
      return 1;
    }
    writer = *std::move(w);
    source.WriteFramesTo(writer.get());
  }
  return RunLive(
      options, absl::StrCat(source.interface(), " (libpcap)"), source, writer.get(),
      [&source] { return source.counters(); },
      [&source]() -> absl::Status {
        const absl::StatusOr<resptrace::KernelDrops> drops = source.Drops();
        if (!drops.ok()) return drops.status();
        std::fprintf(stderr, "resptrace: %llu packets dropped by the kernel, %llu by the interface\n",
                     static_cast<unsigned long long>(drops->by_kernel),
                     static_cast<unsigned long long>(drops->by_interface));
        return absl::OkStatus();
      });
}

#ifdef RESPTRACE_HAVE_EBPF
// Opens the eBPF capture, or says in one line why not (the caller falls back to libpcap).
std::unique_ptr<resptrace::BpfCapture> OpenBpf(const Options& options) {
  resptrace::BpfCaptureOptions bpf;
  bpf.interface = options.interface;
  bpf.server_ports = options.collector.server_ports;
  if (options.snaplen != 0) bpf.snaplen = std::min<uint32_t>(options.snaplen, RESPTRACE_BPF_SNAPLEN_MAX);
  if (options.buffer_mib != 0) bpf.ring_bytes = std::bit_ceil(options.buffer_mib) << 20;
  bpf.hook = options.backend == resptrace::Backend::kXdp ? resptrace::BpfHook::kXdp
                                                         : resptrace::BpfHook::kTc;
  auto capture = resptrace::BpfCapture::Open(bpf);
  if (!capture.ok()) {
    std::fprintf(stderr, "resptrace: --backend %s unavailable (%s); using libpcap\n",
                 resptrace::BackendName(options.backend),
                 std::string(capture.status().message()).c_str());
    return nullptr;
  }
  return *std::move(capture);
}

int CaptureWithBpf(const Options& options, resptrace::BpfCapture& source) {
  auto writer = SegmentWriter(options);
  if (!writer.ok()) {
    PrintError(writer.status());
    return 1;
  }
  return RunLive(
      options, absl::StrCat(source.Describe(), " (eBPF)"), source, writer->get(),
      [&source] {
        const resptrace::BpfCaptureCounters k = source.Counters();
        resptrace::CaptureCounters c;
        c.packets = k.kernel[RESPTRACE_BPF_CTR_SEEN];
        c.tcp_segments = k.decode.segments;
        c.not_tcp = k.kernel[RESPTRACE_BPF_CTR_NOT_TCP];
        c.ip_fragments = k.kernel[RESPTRACE_BPF_CTR_FRAGMENTS];
        c.malformed = k.kernel[RESPTRACE_BPF_CTR_NOT_PARSED] + k.decode.malformed_records;
        c.snaplen_cut = k.kernel[RESPTRACE_BPF_CTR_TRUNCATED];
        return c;
      },
      [&source]() -> absl::Status {
        const resptrace::BpfCaptureCounters k = source.Counters();
        std::fprintf(stderr,
                     "resptrace: eBPF: %llu records lost (ring buffer full, %llu payload bytes), "
                     "%llu payload bytes past the snaplen, %llu segments with chunks missing\n",
                     static_cast<unsigned long long>(k.kernel[RESPTRACE_BPF_CTR_RINGBUF_FULL]),
                     static_cast<unsigned long long>(k.kernel[RESPTRACE_BPF_CTR_LOST_BYTES]),
                     static_cast<unsigned long long>(k.kernel[RESPTRACE_BPF_CTR_TRUNCATED_BYTES]),
                     static_cast<unsigned long long>(k.decode.broken_chunks));
        return absl::OkStatus();
      });
}
#endif

int CaptureLive(const Options& options) {
  if (options.backend != resptrace::Backend::kPcap) {
#ifdef RESPTRACE_HAVE_EBPF
    if (std::unique_ptr<resptrace::BpfCapture> bpf = OpenBpf(options)) {
      return CaptureWithBpf(options, *bpf);
    }
#else
    std::fprintf(stderr, "resptrace: --backend %s: built without eBPF; using libpcap\n",
                 resptrace::BackendName(options.backend));
#endif
  }
  return CaptureWithPcap(options);
}

}  // namespace

int main(int argc, char** argv) {
  absl::StatusOr<Options> options = resptrace::ParseOptions(argc, argv);
  if (!options.ok()) {
    PrintError(options.status());
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
  return options->read_file.empty() ? CaptureLive(*options) : ReadFile(*options);
}

#include "resptrace/options.h"

#include <cstring>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace resptrace {
namespace {

// Abseil here is built with its own string_view type, so std::string_view goes in as std::string.
absl::Status Bad(std::string_view flag, std::string_view value, std::string_view want) {
  return absl::InvalidArgumentError(absl::StrCat("bad value '", std::string(value), "' for ",
                                                 std::string(flag), ": ", std::string(want),
                                                 " (see --help)"));
}

absl::StatusOr<std::vector<uint16_t>> ParsePorts(std::string_view flag, std::string_view list) {
  std::vector<uint16_t> ports;
  for (absl::string_view p : absl::StrSplit(absl::string_view(list.data(), list.size()), ',')) {
    uint32_t v = 0;
    if (!absl::SimpleAtoi(p, &v) || v == 0 || v > 65535) {
      return Bad(flag, list, "a comma-separated list of TCP ports 1-65535");
    }
    ports.push_back(static_cast<uint16_t>(v));
  }
  return ports;
}

// Each level costs each parser a few bytes; no real reply nests anywhere near this.
constexpr uint64_t kMaxDepth = 1 << 16;

}  // namespace

const char* BackendName(Backend b) {
  switch (b) {
    case Backend::kTc: return "tc";
    case Backend::kXdp: return "xdp";
    case Backend::kPcap: break;
  }
  return "pcap";
}

std::string UsageText() {
  return R"(usage: resptrace [-i IFACE] [options]      capture live (needs root, or CAP_BPF,
                                          CAP_PERFMON and CAP_NET_ADMIN; CAP_NET_RAW for pcap)
       resptrace -r FILE [options]        read a capture file

Shows every command a client sends to a Redis (RESP) server, its reply and its latency,
decoded from live traffic or from a capture file.

input:
  -i, --interface IFACE    capture live on IFACE (default "any": every interface; a segment
                           captured on two, as between a host and its container, counts once)
  --backend tc|xdp|pcap    how to capture live (default tc): tc attaches eBPF programs at
                           TC ingress and egress (egress only on loopback), xdp at XDP
                           ingress (TC on a bridge's ports, where the kernel refuses XDP)
                           and TC egress; pcap uses libpcap. When eBPF cannot load
                           (privileges, no BTF), resptrace says why and uses libpcap
  -r, --read FILE          read a pcap or pcapng capture ("-" for standard input)
  -p, --ports LIST         server ports, comma-separated (default 6379)
  -c, --count N            stop after N commands
  --duration SECONDS       stop capturing after this long (live only)
  --snaplen BYTES          bytes kept of each segment, live only. eBPF: TCP payload bytes
                           (default 262144, at most 524288; loopback's GSO segments reach
                           131,032). pcap: bytes of each frame, headers included (default
                           262144). Bytes past it are counted as not captured
  --buffer-mb MIB          the kernel buffer between capture and resptrace, live only: the
                           eBPF ring buffers (default 8 in all, split among the CPUs, each
                           a power of two of at least 512 KiB) or libpcap's ring (default
                           64); at most 1024. A full buffer loses segments: they are
                           counted, and become gaps
  -w, --write FILE         also save what is captured to FILE as pcap, to replay with -r or
                           open in tcpdump/Wireshark. It is the raw traffic: passwords (AUTH)
                           and every value are in it, unredacted (--redact-values does not
                           apply to it). With -r, the input's TCP segments are written.
                           eBPF's and -r's segments get Linux cooked v2 headers, which keep
                           the interface that captured each.

output:
  -o, --output FORMAT      text (default): one line per command
                           json: one JSON object per line (schema: docs/records.md)
                           none: no records, only the summary's counts
  --redact-values          hide values too, not only passwords (which are always hidden):
                           every argument but the subcommand's name and the keys, and
                           every value in replies but nulls and OK/QUEUED/PONG, each shown
                           with its length only. The command, keys, reply types, element
                           counts, error codes (WRONGTYPE, ...), sizes and latencies stay.
                           -w's file is not redacted
  --max-value-bytes N      keep at most N bytes of each value, cut ones are marked
                           (default 512, 0 = never cut); no more of a value is held
  --max-elements N         keep at most N elements of each array, map or set, the rest
                           are counted (default 1000, 0 = all)
                           The summary counts the values and aggregates cut
  --max-depth N            aggregates nested deeper than N levels are not decoded: the
                           reply is counted, and the connection is out of step until
                           proven in step again (default 128)

connections:
  --idle-timeout SECONDS   close a connection silent this long, reporting its waiting
                           commands (default 300, 0 = never)
  --max-pending N          commands awaiting a reply per connection before it is
                           declared out of step (default 10000); also the records a
                           transaction (MULTI) holds until EXEC, past which they are
                           written without their results
  --max-unproven N         commands kept per connection while it is out of step, waiting
                           for a proof of step to pair them (default 32): past it the
                           oldest is reported unmatched at once
  --max-flows N            connections tracked at once (default 100000, about 3.5 KiB
                           each at rest); a new one ends the least recently active, whose
                           waiting commands are reported as evicted
  --max-flow-bytes N       bytes one connection holds while it waits for a hole to fill
                           (out of order, both ways) or for the rest of a line (default
                           4194304); past it, its oldest holes become gaps
  --max-buffered-bytes N   the same over every connection (default 268435456); past it,
                           the least recently active connections holding bytes give them
                           up as gaps
                           Each limit hit is counted in the summary, the flag named

  -h, --help               this text
  --version                the version

A live capture runs until Ctrl-C (or SIGTERM), -c or --duration, then prints what is still
waiting. A summary goes to standard error at the end. Exit status: 0 when the input was
read to its end or the capture was stopped (anomalies in the traffic are counted, not
failures), 1 when the capture cannot be opened, read or written, 2 for bad arguments.
)";
}

absl::StatusOr<Options> ParseOptions(int argc, char** argv) {
  Options o;
  std::string_view live_only;  // the last option given that only a live capture takes
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    std::string_view value;
    // --flag=value and --flag value both work.
    if (arg.substr(0, 2) == "--" && arg.find('=') != std::string_view::npos) {
      const size_t eq = arg.find('=');
      value = arg.substr(eq + 1);
      arg = arg.substr(0, eq);
    }
    auto need_value = [&]() -> absl::StatusOr<std::string_view> {
      if (!value.empty()) return value;
      if (i + 1 >= argc) return absl::InvalidArgumentError(absl::StrCat(std::string(arg), " needs a value (see --help)"));
      return std::string_view(argv[++i]);
    };
    auto need_uint = [&](uint64_t max) -> absl::StatusOr<uint64_t> {
      absl::StatusOr<std::string_view> v = need_value();
      if (!v.ok()) return v.status();
      uint64_t n = 0;
      if (!absl::SimpleAtoi(absl::string_view(v->data(), v->size()), &n) || n > max) {
        return Bad(arg, *v, absl::StrCat("a whole number from 0 to ", max));
      }
      return n;
    };
    if (arg == "-h" || arg == "--help") {
      o.help = true;
    } else if (arg == "--version") {
      o.version = true;
    } else if (arg == "-r" || arg == "--read") {
      absl::StatusOr<std::string_view> v = need_value();
      if (!v.ok()) return v.status();
      o.read_file = std::string(*v);
    } else if (arg == "-i" || arg == "--interface") {
      absl::StatusOr<std::string_view> v = need_value();
      if (!v.ok()) return v.status();
      if (v->empty()) return Bad(arg, *v, "an interface name, or any");
      o.interface = std::string(*v);
      live_only = arg;
    } else if (arg == "--backend") {
      absl::StatusOr<std::string_view> v = need_value();
      if (!v.ok()) return v.status();
      if (*v == "tc") {
        o.backend = Backend::kTc;
      } else if (*v == "xdp") {
        o.backend = Backend::kXdp;
      } else if (*v == "pcap") {
        o.backend = Backend::kPcap;
      } else {
        return Bad(arg, *v, "tc, xdp or pcap");
      }
      live_only = arg;
    } else if (arg == "-w" || arg == "--write") {
      absl::StatusOr<std::string_view> v = need_value();
      if (!v.ok()) return v.status();
      if (v->empty()) return Bad(arg, *v, "a file name");
      o.write_file = std::string(*v);
    } else if (arg == "-c" || arg == "--count") {
      absl::StatusOr<uint64_t> n = need_uint(uint64_t{1} << 62);
      if (!n.ok()) return n.status();
      if (*n == 0) return Bad(arg, "0", "at least 1");
      o.max_commands = *n;
    } else if (arg == "--duration") {
      absl::StatusOr<uint64_t> n = need_uint(10ull * 365 * 86400);
      if (!n.ok()) return n.status();
      if (*n == 0) return Bad(arg, "0", "at least 1 second");
      o.duration_ns = static_cast<int64_t>(*n) * 1'000'000'000;
      live_only = arg;
    } else if (arg == "--snaplen") {
      absl::StatusOr<uint64_t> n = need_uint(1u << 30);
      if (!n.ok()) return n.status();
      if (*n == 0) return Bad(arg, "0", "at least 1 byte");
      o.snaplen = static_cast<uint32_t>(*n);
      live_only = arg;
    } else if (arg == "--buffer-mb") {
      absl::StatusOr<uint64_t> n = need_uint(1024);
      if (!n.ok()) return n.status();
      if (*n == 0) return Bad(arg, "0", "at least 1 MiB");
      o.buffer_mib = static_cast<uint32_t>(*n);
      live_only = arg;
    } else if (arg == "-p" || arg == "--ports") {
      absl::StatusOr<std::string_view> v = need_value();
      if (!v.ok()) return v.status();
      absl::StatusOr<std::vector<uint16_t>> ports = ParsePorts(arg, *v);
      if (!ports.ok()) return ports.status();
      o.collector.server_ports = *std::move(ports);
    } else if (arg == "-o" || arg == "--output") {
      absl::StatusOr<std::string_view> v = need_value();
      if (!v.ok()) return v.status();
      if (*v == "text") {
        o.format = OutputFormat::kText;
      } else if (*v == "json") {
        o.format = OutputFormat::kJson;
      } else if (*v == "none") {
        o.format = OutputFormat::kNone;
      } else {
        return Bad(arg, *v, "text, json or none");
      }
    } else if (arg == "--redact-values") {
      o.redact_values = true;
    } else if (arg == "--max-value-bytes") {
      absl::StatusOr<uint64_t> n = need_uint(1ull << 40);
      if (!n.ok()) return n.status();
      o.collector.session.message.max_value_bytes = *n;
    } else if (arg == "--max-elements") {
      absl::StatusOr<uint64_t> n = need_uint(1ull << 40);
      if (!n.ok()) return n.status();
      o.collector.session.message.max_elements = *n;
    } else if (arg == "--max-depth") {
      absl::StatusOr<uint64_t> n = need_uint(kMaxDepth);
      if (!n.ok()) return n.status();
      if (*n == 0) return Bad(arg, "0", "at least 1 (a request is an array)");
      o.collector.resp.max_depth = static_cast<uint32_t>(*n);
    } else if (arg == "--max-flows") {
      absl::StatusOr<uint64_t> n = need_uint(uint64_t{1} << 32);
      if (!n.ok()) return n.status();
      if (*n == 0) return Bad(arg, "0", "at least 1");
      o.collector.max_flows = *n;
    } else if (arg == "--max-flow-bytes") {
      absl::StatusOr<uint64_t> n = need_uint(uint64_t{1} << 40);
      if (!n.ok()) return n.status();
      if (*n == 0) return Bad(arg, "0", "at least 1");
      o.collector.max_flow_bytes = *n;
    } else if (arg == "--max-buffered-bytes") {
      absl::StatusOr<uint64_t> n = need_uint(uint64_t{1} << 40);
      if (!n.ok()) return n.status();
      if (*n == 0) return Bad(arg, "0", "at least 1");
      o.collector.max_buffered_bytes = *n;
    } else if (arg == "--idle-timeout") {
      absl::StatusOr<uint64_t> n = need_uint(10ull * 365 * 86400);
      if (!n.ok()) return n.status();
      o.collector.idle_timeout_ns = static_cast<int64_t>(*n) * 1'000'000'000;
    } else if (arg == "--max-unproven") {
      absl::StatusOr<uint64_t> n = need_uint(1u << 30);
      if (!n.ok()) return n.status();
      if (*n == 0) return Bad(arg, "0", "at least 1");
      o.collector.session.max_unproven = static_cast<uint32_t>(*n);
    } else if (arg == "--max-pending") {
      absl::StatusOr<uint64_t> n = need_uint(1u << 30);
      if (!n.ok()) return n.status();
      if (*n == 0) return Bad(arg, "0", "at least 1");
      o.collector.session.max_pending = static_cast<uint32_t>(*n);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option '", std::string(arg), "' (see --help)"));
    }
  }
  if (o.format == OutputFormat::kNone) {
    // Nothing is printed: keep of each message only what pairing needs, its type and the
    // command's name, and skip storing every other value.
    o.collector.session.message.keep_values = false;
  }
  if (!o.read_file.empty() && !live_only.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        std::string(live_only), " is for live capture and cannot go with -r (see --help)"));
  }
  if (!o.write_file.empty() && o.write_file == o.read_file) {
    return Bad("-w", o.write_file, "a file other than the one -r reads");
  }
  return o;
}

}  // namespace resptrace

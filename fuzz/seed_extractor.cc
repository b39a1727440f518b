// Turns captures into seeds for the fuzz targets that do not read captures themselves: each
// connection's segments, in capture order, as resp_parser_fuzz's chunks and as
// reassembler_fuzz's segments (both directions through a Collector, and the client's
// sequence numbers alone through a Reassembler).
//
//   fuzz_seed_extractor OUT_DIR CAPTURE...
// writes OUT_DIR/resp_parser/* and OUT_DIR/reassembler/*.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include "resptrace/capture_reader.h"

namespace {

constexpr size_t kMaxSeedBytes = 16 << 10;  // libFuzzer's -max_len in scripts/fuzz
constexpr size_t kMaxConnections = 8;       // per capture: enough shapes, a small corpus
constexpr uint16_t kServerPorts[] = {6379, 6380, 6381, 7000};

struct Seg {
  bool from_server;
  uint8_t flags;
  uint32_t seq, ack;
  int64_t ts_ns;
  std::string payload;
};

void PutInt(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>(v >> (8 * i));
}

bool IsServerPort(uint16_t p) {
  return std::find(std::begin(kServerPorts), std::end(kServerPorts), p) != std::end(kServerPorts);
}

// resp_parser_harness.cc's format: options, then (header, length, bytes) per payload.
std::string RespSeed(const std::vector<Seg>& segs) {
  const bool handshake = !segs.empty() && (segs[0].flags & resptrace::tcp_flags::kSyn);
  std::string out(1, handshake ? 0x00 : 0x04);  // 0x04: joined mid-stream
  for (const Seg& s : segs) {
    if (s.payload.empty()) continue;
    if (out.size() + 3 + s.payload.size() > kMaxSeedBytes) break;
    out += static_cast<char>(s.from_server ? 0x80 : 0x00);
    PutInt(out, s.payload.size(), 2);
    out += s.payload;
  }
  return out;
}

// reassembler_harness.cc's format: options, then (flags, control, seq, ack, length[, bytes]).
std::string ReassemblerSeed(const std::vector<Seg>& segs, bool collector) {
  std::string out(1, collector ? 0x01 : 0x00);
  int64_t last_ts = segs.empty() ? 0 : segs[0].ts_ns;
  for (const Seg& s : segs) {
    if (!collector && s.from_server) continue;
    if (out.size() + 12 + (collector ? s.payload.size() : 0) > kMaxSeedBytes) break;
    out += static_cast<char>((s.flags & 0x1f) | (collector && s.from_server ? 0x20 : 0));
    // The collector's time steps are of 100 ms; the reassembler's are bare nanoseconds.
    const int64_t step = collector ? std::min<int64_t>((s.ts_ns - last_ts) / 100'000'000, 63) : 1;
    out += static_cast<char>(std::max<int64_t>(step, 0));
    last_ts = s.ts_ns;
    PutInt(out, s.seq, 4);
    PutInt(out, s.ack, 4);
    PutInt(out, s.payload.size(), 2);
    if (collector) out += s.payload;
  }
  return out;
}

bool WriteFile(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream f(p, std::ios::binary);
  f << bytes;
  return static_cast<bool>(f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s OUT_DIR CAPTURE...\n", argv[0]);
    return 2;
  }
  const std::filesystem::path out = argv[1];
  std::filesystem::create_directories(out / "resp_parser");
  std::filesystem::create_directories(out / "reassembler");
  for (int i = 2; i < argc; ++i) {
    auto reader = resptrace::CaptureReader::Open(argv[i]);
    if (!reader.ok()) {
      std::fprintf(stderr, "%s\n", reader.status().ToString().c_str());
      return 1;
    }
    // Connections by (client, server), in order of first sight.
    std::map<std::tuple<std::string, std::string>, size_t> index;
    std::vector<std::vector<Seg>> connections;
    // A damaged capture still gives the connections before the damage.
    (*reader)->ReadAll([&](const resptrace::Segment& s) {
      const bool from_server = IsServerPort(s.flow.src.port);
      if (!from_server && !IsServerPort(s.flow.dst.port)) return;
      const resptrace::FlowKey k = from_server ? s.flow.Reversed() : s.flow;
      auto [it, added] = index.emplace(std::tuple(k.src.ToString(), k.dst.ToString()), connections.size());
      if (added) {
        if (connections.size() == kMaxConnections) return;
        connections.emplace_back();
      }
      if (it->second >= connections.size()) return;
      connections[it->second].push_back(
          Seg{from_server, s.flags, s.seq, s.ack, s.ts_ns, std::string(s.payload)});
    }).IgnoreError();
    const std::string stem = std::filesystem::path(argv[i]).parent_path().filename().string() + "-" +
                             std::filesystem::path(argv[i]).stem().string();
    for (size_t c = 0; c < connections.size(); ++c) {
      const std::string name = stem + "-" + std::to_string(c);
      if (!WriteFile(out / "resp_parser" / name, RespSeed(connections[c])) ||
          !WriteFile(out / "reassembler" / (name + "-collector"), ReassemblerSeed(connections[c], true)) ||
          !WriteFile(out / "reassembler" / (name + "-client"), ReassemblerSeed(connections[c], false))) {
        std::fprintf(stderr, "cannot write seeds to %s\n", out.c_str());
        return 1;
      }
    }
  }
  return 0;
}

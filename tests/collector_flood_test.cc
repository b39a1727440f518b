// A flood of 100,000 connections of random bytes and half-open flows through the collector:
// resident memory stays under a bound the limits set, every limit is hit and counted, and
// one real connection in the middle of the flood keeps exact records.
#include <sys/resource.h>

#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "resptrace/collector.h"
#include "tcp_conversation.h"

namespace resptrace {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAddressSanitizer = true;
#else
constexpr bool kAddressSanitizer = false;
#endif
#else
constexpr bool kAddressSanitizer = false;
#endif

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kMiB = 1024 * kKiB;

// Resident memory now, and the most this process ever had.
uint64_t ResidentBytes() {
  long pages = 0;
  long resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  const int n = std::fscanf(f, "%ld %ld", &pages, &resident);
  std::fclose(f);
  return n == 2 ? static_cast<uint64_t>(resident) * 4096 : 0;
}
uint64_t PeakResidentBytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<uint64_t>(u.ru_maxrss) * kKiB;
}

// One record of the real connection, copied out.
struct Kept {
  std::string cmd, args, reply, no_reply;
  int64_t ts_ns = 0;
  int64_t latency_ns = 0;
  uint64_t req_bytes = 0;
  uint64_t reply_bytes = 0;
};

// Keeps the real connection's records; counts the flood's.
class Sink : public RecordSink {
 public:
  explicit Sink(std::string client) : client_(std::move(client)) {}
  void Write(const Record& r) override {
    if (r.client_name != client_) {
      ++flood_records;
      if (r.no_reply == NoReply::kEvicted) ++evicted_records;
      return;
    }
    Kept k;
    const ValueNode* root = r.request != nullptr ? r.request->root() : nullptr;
    if (root != nullptr) {
      const ValueNode* n = Message::first_child(root);
      for (uint32_t i = 0; i < root->children; ++i, n = Message::next_sibling(n)) {
        (i == 0 ? k.cmd : k.args) += (i > 1 ? " " : "") + std::string(r.request->data(*n));
      }
      k.ts_ns = r.request->first_ts_ns;
      k.req_bytes = r.request->wire_bytes;
    }
    if (r.reply != nullptr && r.reply->root() != nullptr) {
      k.reply = std::string(r.reply->data(*r.reply->root()));
      k.latency_ns = r.latency_ns();
      k.reply_bytes = r.reply->wire_bytes;
    }
    k.no_reply = std::string(NoReplyName(r.no_reply));
    kept.push_back(k);
  }
  absl::Status Flush() override { return absl::OkStatus(); }

  std::vector<Kept> kept;
  uint64_t flood_records = 0;
  uint64_t evicted_records = 0;

 private:
  std::string client_;
};


Endpoint Addr(uint32_t host, uint16_t port) {
  const uint8_t b[4] = {10, static_cast<uint8_t>(host >> 16), static_cast<uint8_t>(host >> 8),
                        static_cast<uint8_t>(host)};
  return Endpoint{IpAddress::V4(b), port};
}

TEST(CollectorFloodTest, MemoryStaysBoundedAndARealConnectionStaysExact) {
  constexpr uint32_t kConnections = 100'000;
  CollectorOptions options;
  options.max_flows = 10'000;
  options.max_flow_bytes = 64 * kKiB;
  options.max_buffered_bytes = 8 * kMiB;

  // Random bytes to cut payloads from, made before the first measurement.
  std::mt19937_64 rng(20261121);
  std::string noise(4 * kMiB, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  auto random_bytes = [&](size_t len) {
    return std::string_view(noise).substr(rng() % (noise.size() - len), len);
  };
  auto between = [&](uint64_t lo, uint64_t hi) { return lo + rng() % (hi - lo + 1); };

  const uint64_t resident_before = ResidentBytes();
  const Endpoint server = Addr(0xffffff, 6379);
  const Endpoint real_client = Addr(0xfffffe, 50000);
  const std::string set_1 = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$";
  const std::string set_2 = "5\r\nhello\r\n";
  constexpr int64_t kT0 = 1'700'000'000'000'000'000;
  Sink sink(real_client.ToString());
  {
    Collector c(options, &sink);
    uint64_t over_buffered = 0;  // segments after which a limit was exceeded
    uint64_t over_flows = 0;
    auto offer = [&](const Segment& s) {
      c.OnSegment(s);
      over_buffered += c.held_bytes() > options.max_buffered_bytes;
      over_flows += c.active_connections() > options.max_flows;
    };

    // The real connection, in the middle of the flood: a segment every 500 flood
    // connections, far fewer than --max-flows, so that it stays among the active ones. Its
    // SET is cut inside a header and GET's reply comes out of order: it holds bytes, and
    // is the most recently active of those that do.
    test::TcpConversation real(real_client, server, 777, 777 ^ 0x5a5a5a5a);
    std::vector<std::pair<uint32_t, Segment>> script;
    auto at = [&](uint32_t i) { return kT0 + int64_t{i} * 1000; };
    script.emplace_back(50'000, real.Syn(at(50'000)));
    script.emplace_back(50'001, real.SynAck(at(50'001)));
    script.emplace_back(50'500, real.FromClient("*1\r\n$4\r\nPING\r\n", at(50'500)));
    script.emplace_back(51'000, real.FromServer("+PONG\r\n", at(51'000)));
    script.emplace_back(51'500, real.FromClient(set_1, at(51'500)));
    script.emplace_back(52'000, real.FromClient(set_2, at(52'000)));
    script.emplace_back(52'500, real.FromServer("+OK\r\n", at(52'500)));
    script.emplace_back(53'000, real.FromClient("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n", at(53'000)));
    const Segment get_1 = real.FromServer("$5\r\nhel", at(54'000));
    const Segment get_2 = real.FromServer("lo\r\n", at(53'500));
    script.emplace_back(53'500, get_2);
    script.emplace_back(54'000, get_1);
    script.emplace_back(54'500, real.FromClient("", at(54'500), tcp_flags::kFin));
    script.emplace_back(55'000, real.FromServer("", at(55'000), tcp_flags::kFin));
    size_t next_real = 0;

    for (uint32_t i = 0; i < kConnections; ++i) {
      while (next_real < script.size() && script[next_real].first == i) {
        offer(script[next_real++].second);
      }
      const auto isn = static_cast<uint32_t>(rng());
      test::TcpConversation f(Addr(i, static_cast<uint16_t>(1024 + i % 60000)), server, isn,
                              isn ^ 0x5a5a5a5a);
      const int64_t ts = at(i);
      switch (i % 5) {
        case 0:  // a SYN, nothing more
          offer(f.Syn(ts));
          break;
        case 1: {  // a handshake, then random bytes from the client, never answered
          offer(f.Syn(ts));
          offer(f.SynAck(ts));
          for (uint64_t n = between(1, 3); n > 0; --n) {
            offer(f.FromClient(random_bytes(between(1, 1400)), ts));
          }
          break;
        }
        case 2:  // no handshake: random bytes both ways, a connection joined mid-stream
          offer(f.FromClient(random_bytes(between(1, 1400)), ts));
          offer(f.FromServer(random_bytes(between(1, 1400)), ts));
          break;
        case 3: {  // out-of-order bytes behind a hole that never fills
          offer(f.Syn(ts));
          offer(f.SynAck(ts));
          // One in twenty holds more than --max-flow-bytes.
          const uint64_t segments = i % 100 == 3 ? 60 : between(1, 3);
          for (uint64_t n = 0; n < segments; ++n) {
            offer(f.ClientAhead(static_cast<uint32_t>(100 + n * 1400), random_bytes(1400), ts));
          }
          break;
        }
        case 4: {  // a request never answered, then the start of a line that never ends
          offer(f.Syn(ts));
          offer(f.SynAck(ts));
          offer(f.FromClient("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", ts));
          std::string line = "SET k ";
          line += std::string(between(10, 3000), 'v');
          offer(f.FromClient(line, ts));
          break;
        }
      }
    }
    EXPECT_EQ(next_real, script.size());
    EXPECT_EQ(over_buffered, 0u);
    EXPECT_EQ(over_flows, 0u);

    // Every limit was hit, and counted.
    const CollectorCounters& n = c.counters();
    EXPECT_EQ(n.flows, kConnections + 1);
    EXPECT_EQ(c.active_connections(), options.max_flows);
    EXPECT_EQ(n.evictions + n.closed_fin + n.closed_rst + c.active_connections(), n.flows);
    EXPECT_GT(sink.evicted_records, 0u);
    EXPECT_GT(n.flow_bytes_hits, 0u);
    EXPECT_GT(n.total_bytes_hits, 0u);
    EXPECT_GT(n.reassembly.gaps, 0u);
    EXPECT_EQ(n.closed_fin, 1u);
    const uint64_t peak = PeakResidentBytes();
    c.Finish();
    EXPECT_EQ(c.held_bytes(), 0u);

    // What the flood may take, from the limits: each tracked connection at rest (3.5 KiB
    // measured: its reassemblers, parsers, session, copy filters and entry in the table)
    // with what it keeps of the commands it waits on (the random bytes parse as inline
    // commands: at most 3 x 1400 bytes of them, with their nodes and queue slots), 8 KiB in
    // all; the bytes held, with the allocator's headers and the rounding of each segment's
    // copy, at most twice --max-buffered-bytes; and 16 MiB for the allocator's free lists
    // and the flow table's slack:
    //   10,000 x 8 KiB + 2 x 8 MiB + 16 MiB = 110 MiB.
    // The same flood with no limits (every connection tracked, every byte held) grew the
    // resident memory by 538 MiB; with these, by 46 MiB.
    const uint64_t bound =
        options.max_flows * 8 * kKiB + 2 * options.max_buffered_bytes + 16 * kMiB;
    std::printf("resident before %.1f MiB, peak %.1f MiB: grew %.1f MiB, bound %.1f MiB\n",
                static_cast<double>(resident_before) / kMiB, static_cast<double>(peak) / kMiB,
                static_cast<double>(peak - resident_before) / kMiB,
                static_cast<double>(bound) / kMiB);
    if (kAddressSanitizer) {
      // ASan keeps freed memory in quarantine and pads every allocation: what it makes
      // resident says nothing of what resptrace holds. The limits' counters and the
      // per-segment checks above still hold.
      std::printf("under AddressSanitizer: resident memory not checked\n");
    } else {
      EXPECT_LT(peak - resident_before, bound);
    }
  }

  // The real connection's records are exact: each command, its reply and its latency.
  ASSERT_EQ(sink.kept.size(), 3u);
  EXPECT_EQ(sink.kept[0].cmd, "PING");
  EXPECT_EQ(sink.kept[0].reply, "PONG");
  EXPECT_EQ(sink.kept[0].latency_ns, 500'000);
  EXPECT_EQ(sink.kept[0].req_bytes, 14u);
  EXPECT_EQ(sink.kept[0].reply_bytes, 7u);
  EXPECT_EQ(sink.kept[1].cmd, "SET");
  EXPECT_EQ(sink.kept[1].args, "key hello");
  EXPECT_EQ(sink.kept[1].reply, "OK");
  EXPECT_EQ(sink.kept[1].ts_ns, kT0 + 51'500'000);
  EXPECT_EQ(sink.kept[1].latency_ns, 1'000'000);
  EXPECT_EQ(sink.kept[1].req_bytes, set_1.size() + set_2.size());
  EXPECT_EQ(sink.kept[2].cmd, "GET");
  EXPECT_EQ(sink.kept[2].args, "key");
  EXPECT_EQ(sink.kept[2].reply, "hello");
  // Its last byte came first, ahead of a hole: the reply ends there, as captured.
  EXPECT_EQ(sink.kept[2].latency_ns, 500'000);
  EXPECT_EQ(sink.kept[2].reply_bytes, 11u);
  for (const Kept& k : sink.kept) EXPECT_EQ(k.no_reply, "");
}

}  // namespace
}  // namespace resptrace

// Live capture end to end: resptrace captures a throwaway redis-server's loopback traffic with
// libpcap while a raw client runs a known script, and must report exactly that script; what it
// saved with -w must replay to the same records and read in tcpdump.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <chrono>
#include <cstring>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "live_resptrace.h"
#include "redis_harness.h"

namespace resptrace::live {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;

// The fields of a command record that the script determines.
json Expected(const RawConnection& c, const RedisServer& server,
              const std::vector<std::string>& command, const std::string& reply_type,
              const json& reply, size_t reply_bytes) {
  return json{{"type", "command"},
              {"client", c.endpoint()},
              {"server", server.endpoint()},
              {"cmd", command[0]},
              {"args", std::vector<std::string>(command.begin() + 1, command.end())},
              {"reply_type", reply_type},
              {"reply", reply},
              {"req_bytes", EncodeCommand(command).size()},
              {"reply_bytes", reply_bytes}};
}

void ExpectRecords(const std::vector<json>& records, const std::vector<json>& expected) {
  ASSERT_EQ(records.size(), expected.size());
  for (size_t i = 0; i < records.size(); ++i) {
    SCOPED_TRACE(records[i].dump());
    for (const auto& [key, value] : expected[i].items()) EXPECT_EQ(records[i].at(key), value) << key;
    EXPECT_FALSE(records[i].contains("no_reply"));
  }
}

// Sends a command, checks the reply's exact bytes.
void Exchange(RawConnection& c, const std::vector<std::string>& command, const std::string& reply) {
  c.Send(EncodeCommand(command));
  EXPECT_EQ(c.ReadExactly(reply.size()), reply);
}

const std::string kWrongType = "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

// The same script through each backend: libpcap, eBPF at TC, eBPF with XDP. lo takes one XDP
// program at a time, and ctest runs tests in parallel: the XDP tests on the host's lo take
// turns through a lock file, held from set-up to tear-down.
class LiveBackendTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() != "xdp") return;
    lock_fd_ = open("/tmp/resptrace-test-xdp-lo.lock", O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    ASSERT_GE(lock_fd_, 0) << std::strerror(errno);
    ASSERT_EQ(flock(lock_fd_, LOCK_EX), 0) << std::strerror(errno);
  }
  void TearDown() override {
    if (lock_fd_ >= 0) close(lock_fd_);
  }

 private:
  int lock_fd_ = -1;
};

TEST_P(LiveBackendTest, RecordsTheScriptOnceAndSavesAReplayableCapture) {
  const std::string backend = GetParam();
  RedisServer redis;
  TempDir dir;
  const std::string saved = dir.path() + "/out.pcap";
  const std::string port = std::to_string(redis.port());
  LiveResptrace trace({"-i", "lo", "--backend", backend, "-p", port, "-o", "json", "-w", saved});
  if (backend == "pcap") {
    EXPECT_EQ(trace.err(), "resptrace: capturing on lo (libpcap)\n");
  } else {
    SKIP_OR_FAIL_UNLESS_BPF(trace);
    // On loopback one hook sees each packet once: TC egress, or XDP at ingress.
    EXPECT_EQ(trace.err(), backend == "tc" ? "resptrace: capturing on lo: tcx egress (eBPF)\n"
                                           : "resptrace: capturing on lo: xdp (eBPF)\n");
  }

  std::vector<json> expected;
  {
    RawConnection c(redis.port());
    Exchange(c, {"SET", "greeting", "hello"}, "+OK\r\n");
    expected.push_back(Expected(c, redis, {"SET", "greeting", "hello"}, "simple", "OK", 5));
    Exchange(c, {"GET", "greeting"}, "$5\r\nhello\r\n");
    expected.push_back(Expected(c, redis, {"GET", "greeting"}, "bulk", "hello", 11));
    // Pipelined: three commands in one send.
    const std::string replies = "+OK\r\n:11\r\n$2\r\n11\r\n";
    c.Send(EncodeCommand({"SET", "n", "10"}) + EncodeCommand({"INCR", "n"}) +
           EncodeCommand({"GET", "n"}));
    EXPECT_EQ(c.ReadExactly(replies.size()), replies);
    expected.push_back(Expected(c, redis, {"SET", "n", "10"}, "simple", "OK", 5));
    expected.push_back(Expected(c, redis, {"INCR", "n"}, "integer", 11, 5));
    expected.push_back(Expected(c, redis, {"GET", "n"}, "bulk", "11", 8));
    Exchange(c, {"LPUSH", "greeting", "x"}, kWrongType);
    expected.push_back(Expected(c, redis, {"LPUSH", "greeting", "x"}, "error",
                                json{{"error", kWrongType.substr(1, kWrongType.size() - 3)}},
                                kWrongType.size()));
  }
  {
    RawConnection c(redis.port());
    Exchange(c, {"GET", "missing"}, "$-1\r\n");
    expected.push_back(Expected(c, redis, {"GET", "missing"}, "null", nullptr, 5));
  }
  // Live output is flushed within a tick: the records show up while it still runs.
  trace.WaitForRecords(expected.size());
  trace.Signal(SIGINT);
  ASSERT_EQ(trace.WaitExit(), 0) << trace.err();
  const std::vector<json> records = JsonLines(trace.out());
  ExpectRecords(records, expected);
  EXPECT_THAT(trace.err(), HasSubstr(" 7 commands, 7 replies, 0 unanswered, 0 pushes, 0 anomalies, "
                                     "0 gaps (0 bytes)\n"));
  EXPECT_THAT(trace.err(), HasSubstr(backend == "pcap"
      ? "resptrace: 0 packets dropped by the kernel, 0 by the interface\n"
      : "resptrace: eBPF: 0 records lost (ring buffer full, 0 payload bytes), 0 payload bytes "
        "past the snaplen, 0 segments with chunks missing\n"));

  // The saved capture replays to the very same output.
  const ProcessResult replay = RunProcess({RESPTRACE_BINARY, "-r", saved, "-p", port, "-o", "json"});
  ASSERT_EQ(replay.exit_status, 0) << replay.err;
  EXPECT_EQ(replay.out, trace.out());
  if (backend == "pcap") {
    // libpcap saw only the port's packets: the same summary too. (The eBPF programs count
    // every packet of the interface they ran on.)
    // The summary's lines (its error line included), without the capture's own line after.
    const std::string live_summary = trace.err().substr(trace.err().find("resptrace: ", 1));
    EXPECT_EQ(replay.err, live_summary.substr(0, live_summary.find("resptrace: ", 1)));
    EXPECT_THAT(replay.err, HasSubstr("\n  error replies: 1 WRONGTYPE\n"));
  }

  // tcpdump reads it: one line per frame, as many frames as resptrace counted. libpcap saves
  // lo's frames as they are; eBPF's segments are saved with cooked v2 headers, which keep
  // their interface.
  const ProcessResult dump = RunProcess({"tcpdump", "-nn", "-r", saved});
  ASSERT_EQ(dump.exit_status, 0) << dump.err;
  EXPECT_THAT(dump.err,
              HasSubstr(backend == "pcap" ? "link-type EN10MB " : "link-type LINUX_SLL2 "));
  EXPECT_THAT(replay.err, StartsWith(absl::StrCat("resptrace: ", CountLines(dump.out), " packets, 2 flows")));
}

TEST_P(LiveBackendTest, SnaplenCutsLargeValuesWithoutBreakingPairing) {
  const std::string backend = GetParam();
  RedisServer redis;
  LiveResptrace trace({"-i", "lo", "--backend", backend, "-p", std::to_string(redis.port()), "-o",
                       "json", "--snaplen", "200"});
  if (backend != "pcap") {
    SKIP_OR_FAIL_UNLESS_BPF(trace);
  }
  const std::string value(1000, 'v');
  json echo;
  {
    RawConnection c(redis.port());
    Exchange(c, {"SET", "big", value}, "+OK\r\n");
    Exchange(c, {"GET", "big"}, absl::StrCat("$1000\r\n", value, "\r\n"));
    Exchange(c, {"ECHO", "hi"}, "$2\r\nhi\r\n");
    echo = Expected(c, redis, {"ECHO", "hi"}, "bulk", "hi", 8);
  }
  trace.WaitForRecords(3);
  trace.Signal(SIGINT);
  ASSERT_EQ(trace.WaitExit(), 0) << trace.err();
  const std::vector<json> records = JsonLines(trace.out());
  ASSERT_EQ(records.size(), 3u) << trace.out();
  // The bytes past the snaplen are missing bytes of the values, not lost messages: each
  // reply stays with its command.
  const json& set_value = records[0].at("args").at(1);
  EXPECT_EQ(records[0].at("cmd"), "SET");
  EXPECT_EQ(set_value.at("len"), 1000);
  EXPECT_GT(set_value.at("missing").get<int>(), 800);
  EXPECT_EQ(records[0].at("reply"), "OK");
  EXPECT_EQ(records[1].at("cmd"), "GET");
  EXPECT_EQ(records[1].at("reply").at("len"), 1000);
  EXPECT_GT(records[1].at("reply").at("missing").get<int>(), 800);
  ExpectRecords({records[2]}, {echo});
  EXPECT_THAT(trace.err(), HasSubstr(" 3 commands, 3 replies, 0 unanswered,"));
  EXPECT_THAT(trace.err(), HasSubstr("segments cut by the snaplen: 2\n"));
  if (backend != "pcap") {
    // (29 + 1000 + 2) - 200 bytes of the request, (7 + 1000 + 2) - 200 of the reply.
    EXPECT_THAT(trace.err(), HasSubstr(", 1640 payload bytes past the snaplen,"));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, LiveBackendTest, ::testing::Values("pcap", "tc", "xdp"),
                         [](const auto& info) { return info.param; });

TEST(LiveCaptureTest, WithoutPrivilegesTheEbpfBackendSaysWhyAndFallsBack) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  const ProcessResult r = RunProcess({"setpriv", "--reuid=65534", "--regid=65534",
                                      "--clear-groups", "--inh-caps=-all", RESPTRACE_BINARY, "-i",
                                      "lo", "--backend", "tc"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.err, HasSubstr("resptrace: --backend tc unavailable (cannot load the eBPF program: "
                               "missing privileges (needs CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, "
                               "or root)"));
  EXPECT_THAT(r.err, HasSubstr("; using libpcap\n"));
  EXPECT_THAT(r.err, HasSubstr("CAP_NET_RAW and CAP_NET_ADMIN"));
}

TEST(LiveCaptureTest, AnyInterfaceUsesCookedV2HeadersAndSeesLoopbackOnce) {
  RedisServer redis;
  TempDir dir;
  const std::string saved = dir.path() + "/any.pcap";
  LiveResptrace trace({"--backend", "pcap", "-p", std::to_string(redis.port()), "-o", "json",
                       "-w", saved});
  EXPECT_EQ(trace.err(), "resptrace: capturing on any (libpcap)\n");
  std::vector<json> expected;
  {
    RawConnection c(redis.port());
    Exchange(c, {"SET", "k", "v"}, "+OK\r\n");
    expected.push_back(Expected(c, redis, {"SET", "k", "v"}, "simple", "OK", 5));
  }
  trace.WaitForRecords(1);
  trace.Signal(SIGTERM);
  ASSERT_EQ(trace.WaitExit(), 0) << trace.err();
  ExpectRecords(JsonLines(trace.out()), expected);
  const ProcessResult dump = RunProcess({"tcpdump", "-nn", "-r", saved});
  ASSERT_EQ(dump.exit_status, 0) << dump.err;
  EXPECT_THAT(dump.err, HasSubstr("link-type LINUX_SLL2 "));
}

TEST(LiveCaptureTest, CountStopsAfterExactlyThatManyCommands) {
  RedisServer redis;
  LiveResptrace trace({"-i", "lo", "--backend", "pcap", "-p", std::to_string(redis.port()), "-o",
                       "json", "-c", "3"});
  RawConnection c(redis.port());
  // Five pipelined commands, their replies likely in one packet: still exactly three records.
  c.Send(EncodeCommand({"SET", "a", "1"}) + EncodeCommand({"INCR", "a"}) +
         EncodeCommand({"INCR", "a"}) + EncodeCommand({"INCR", "a"}) + EncodeCommand({"INCR", "a"}));
  const std::string replies = "+OK\r\n:2\r\n:3\r\n:4\r\n:5\r\n";
  EXPECT_EQ(c.ReadExactly(replies.size()), replies);
  ASSERT_EQ(trace.WaitExit(), 0) << trace.err();
  ExpectRecords(JsonLines(trace.out()),
                {Expected(c, redis, {"SET", "a", "1"}, "simple", "OK", 5),
                 Expected(c, redis, {"INCR", "a"}, "integer", 2, 4),
                 Expected(c, redis, {"INCR", "a"}, "integer", 3, 4)});
}

// The first number after `label` in `text`; -1 when absent.
int64_t NumberAfter(const std::string& text, const std::string& label) {
  const size_t at = text.find(label);
  if (at == std::string::npos) return -1;
  return std::strtoll(text.c_str() + at + label.size(), nullptr, 10);
}

// A ring buffer far too small for the load, while its reader is stopped: records are lost.
// resptrace keeps going, counts every lost record, reports the connections they hit as out
// of step (no reply guessed across a gap), and then decodes a new connection exactly.
TEST(LiveCaptureTest, RingBufferOverflowIsCountedAndRecoveredFrom) {
  RedisServer redis;
  const std::string port = std::to_string(redis.port());
  LiveResptrace trace({"-i", "lo", "--backend", "tc", "-p", port, "-o", "json", "--buffer-mb", "1"});
  SKIP_OR_FAIL_UNLESS_BPF(trace);
  trace.Signal(SIGSTOP);
  // 2,000 SETs of 4 KiB: 8 MiB to the server through rings of 512 KiB per CPU.
  const ProcessResult bench = RunProcess({"redis-benchmark", "-p", port, "-n", "2000", "-d", "4096", "-c", "4",
                                          "-P", "16", "-t", "set", "-q"},
                                         {}, std::chrono::milliseconds(60000));
  trace.Signal(SIGCONT);
  ASSERT_EQ(bench.exit_status, 0) << bench.err;
  const auto records_of = [&](const std::string& client) {
    std::vector<json> out;
    const std::string& text = trace.out();
    for (const json& r : JsonLines(text.substr(0, text.rfind('\n') + 1))) {  // whole lines
      if (r.at("client") == client && r.at("type") == "command") out.push_back(r);
    }
    return out;
  };
  // Until the reader has drained the rings, they are still full and lose a new connection's
  // segments too: probe with a PING per connection until one is recorded.
  const Clock::time_point deadline = Clock::now() + std::chrono::seconds(30);
  for (bool drained = false; !drained;) {
    ASSERT_LT(Clock::now(), deadline) << "no probe recorded after the overflow; " << trace.err();
    std::string probe;
    {
      RawConnection c(redis.port());
      probe = c.endpoint();
      Exchange(c, {"PING"}, "+PONG\r\n");
    }
    try {
      trace.WaitUntil([&] { return !records_of(probe).empty(); }, "a probe's record",
                      std::chrono::milliseconds(1000));
      drained = true;
    } catch (const std::runtime_error&) {
      // Its segments were lost: the next probe.
    }
  }
  std::vector<json> expected;
  std::string client;
  {
    RawConnection c(redis.port());
    client = c.endpoint();
    Exchange(c, {"SET", "k", "v"}, "+OK\r\n");
    Exchange(c, {"GET", "k"}, "$1\r\nv\r\n");
    Exchange(c, {"PING"}, "+PONG\r\n");
    expected = {Expected(c, redis, {"SET", "k", "v"}, "simple", "OK", 5),
                Expected(c, redis, {"GET", "k"}, "bulk", "v", 7),
                Expected(c, redis, {"PING"}, "simple", "PONG", 7)};
  }
  const auto mine = [&] { return records_of(client); };
  trace.WaitUntil([&] { return mine().size() >= 3; },
                  "the new connection's records", std::chrono::milliseconds(30000));
  trace.Signal(SIGINT);
  ASSERT_EQ(trace.WaitExit(), 0) << trace.err();
  ExpectRecords(mine(), expected);
  const std::string& err = trace.err();
  const int64_t lost = NumberAfter(err, "eBPF: ");
  const int64_t lost_bytes = NumberAfter(err, "records lost (ring buffer full, ");
  const int64_t gap_bytes = NumberAfter(err, " gaps (");
  EXPECT_GT(lost, 0) << err;
  EXPECT_GT(gap_bytes, 0) << err;
  // On loopback nothing else loses bytes: every byte missing from a stream is in a record
  // counted as lost (some lost ones, of streams that never went on, show no gap), but for
  // a FIN lost: the peer's acknowledgement of it reads as one byte more, at most one per
  // direction of a flow.
  const int64_t flows = NumberAfter(err, " packets, ");
  EXPECT_LE(gap_bytes, lost_bytes + 2 * flows) << err;
  // Losses outside a value are in the records too, each where it was found.
  int64_t gap_records = 0;
  int64_t gap_record_bytes = 0;
  for (const json& r : JsonLines(trace.out())) {
    if (r.at("type") != "gap") continue;
    ++gap_records;
    gap_record_bytes += r.at("bytes").get<int64_t>();
  }
  EXPECT_GT(gap_records, 0) << err;
  EXPECT_LE(gap_record_bytes, gap_bytes) << err;
  // The connections the loss hit are reported out of step: the replies past a gap pair with
  // no command (the commands lost whole cannot be named), none with a later command.
  EXPECT_GT(NumberAfter(err, "connections out of step: "), 0) << err;
  EXPECT_GT(NumberAfter(err, "replies without a command: "), 0) << err;
}

TEST(LiveCaptureTest, DurationStopsByItself) {
  RedisServer redis;
  // From before the start: the test may read the line saying it is capturing late, under load,
  // but the second counts from after the process started.
  const Clock::time_point started = Clock::now();
  LiveResptrace trace({"-i", "lo", "--backend", "pcap", "-p", std::to_string(redis.port()),
                       "--duration", "1"});
  ASSERT_EQ(trace.WaitExit(), 0) << trace.err();
  EXPECT_GE(Clock::now() - started, std::chrono::milliseconds(900));
  EXPECT_EQ(trace.err(),
            "resptrace: capturing on lo (libpcap)\n"
            "resptrace: 0 packets, 0 flows, 0 commands, 0 replies, 0 unanswered, 0 pushes, "
            "0 anomalies, 0 gaps (0 bytes)\n"
            "resptrace: 0 packets dropped by the kernel, 0 by the interface\n");
  EXPECT_EQ(trace.out(), "");
}

TEST(LiveCaptureTest, IdleConnectionsExpireWithoutTraffic) {
  RedisServer redis;
  LiveResptrace trace({"-i", "lo", "--backend", "pcap", "-p", std::to_string(redis.port()), "-o",
                       "json", "--idle-timeout", "1"});
  RawConnection c(redis.port());
  // Blocks forever: no reply, and no packet after it to drive the clock.
  c.Send(EncodeCommand({"BLPOP", "nolist", "0"}));
  trace.WaitForRecords(1);
  trace.Signal(SIGINT);
  ASSERT_EQ(trace.WaitExit(), 0) << trace.err();
  const std::vector<json> records = JsonLines(trace.out());
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].at("cmd"), "BLPOP");
  EXPECT_EQ(records[0].at("client"), c.endpoint());
  EXPECT_EQ(records[0].at("reply_type"), "none");
  EXPECT_EQ(records[0].at("no_reply"), "timeout");
  EXPECT_THAT(trace.err(), HasSubstr(" 1 commands, 0 replies, 1 unanswered,"));
}

TEST(LiveCaptureTest, BadInterfaceIsAClearError) {
  const ProcessResult r = RunProcess({RESPTRACE_BINARY, "-i", "nosuch0", "--backend", "pcap"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.err, StartsWith("resptrace: cannot capture on interface nosuch0: no such interface"));
  EXPECT_EQ(r.out, "");
}

TEST(LiveCaptureTest, MissingCapabilitiesAreNamed) {
  if (geteuid() != 0) GTEST_SKIP() << "needs root to drop to an unprivileged user";
  const ProcessResult r = RunProcess({"setpriv", "--reuid=65534", "--regid=65534",
                                      "--clear-groups", "--inh-caps=-all", RESPTRACE_BINARY, "-i",
                                      "lo", "--backend", "pcap"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.err, HasSubstr("cannot capture on interface lo: permission denied"));
  EXPECT_THAT(r.err, HasSubstr("CAP_NET_RAW and CAP_NET_ADMIN"));
}

TEST(LiveCaptureTest, UnwritableSaveFileIsAClearError) {
  const ProcessResult r = RunProcess(
      {RESPTRACE_BINARY, "-i", "lo", "--backend", "pcap", "-w", "/nonexistent-dir/out.pcap"});
  EXPECT_EQ(r.exit_status, 1);
  EXPECT_THAT(r.err, HasSubstr("resptrace: cannot write capture file /nonexistent-dir/out.pcap: "));
}

TEST(LiveCaptureTest, LiveOptionsWithAFileAreRejected) {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"-r", "x.pcap", "-i", "lo"},
        std::vector<std::string>{"-r", "x.pcap", "--duration", "1"},
        std::vector<std::string>{"-r", "x.pcap", "--backend", "tc"},
        std::vector<std::string>{"-r", "x.pcap", "--snaplen", "100"},
        std::vector<std::string>{"-r", "x.pcap", "--buffer-mb", "16"}}) {
    std::vector<std::string> argv = {RESPTRACE_BINARY};
    argv.insert(argv.end(), args.begin(), args.end());
    const ProcessResult r = RunProcess(argv);
    EXPECT_EQ(r.exit_status, 2);
    EXPECT_THAT(r.err, HasSubstr("is for live capture and cannot go with -r"));
  }
  const ProcessResult bad = RunProcess({RESPTRACE_BINARY, "--backend", "bpf"});
  EXPECT_EQ(bad.exit_status, 2);
  EXPECT_EQ(bad.err, "resptrace: bad value 'bpf' for --backend: tc, xdp or pcap (see --help)\n");
  for (const auto& [flag, value, want] :
       {std::tuple{"--snaplen", "0", "at least 1 byte"},
        std::tuple{"--buffer-mb", "0", "at least 1 MiB"},
        std::tuple{"--buffer-mb", "2048", "a whole number from 0 to 1024"}}) {
    const ProcessResult r = RunProcess({RESPTRACE_BINARY, flag, value});
    EXPECT_EQ(r.exit_status, 2);
    EXPECT_EQ(r.err, absl::StrCat("resptrace: bad value '", value, "' for ", flag, ": ", want,
                                  " (see --help)\n"));
  }
}

TEST(LiveCaptureTest, FileCopiedWithWriteReplaysTheSame) {
  // -r with -w writes the TCP segments it read; the copy gives the same records.
  TempDir dir;
  const std::string copy = dir.path() + "/copy.pcap";
  const std::string input = std::string(RESPTRACE_TEST_DATA) + "/packetbeat/redis_session.pcap";
  const ProcessResult original =
      RunProcess({RESPTRACE_BINARY, "-r", input, "-p", "6380", "-o", "json", "-w", copy});
  ASSERT_EQ(original.exit_status, 0) << original.err;
  EXPECT_EQ(CountLines(original.out), 11u);  // tests/data/packetbeat/EXPECTED.md
  const ProcessResult replay = RunProcess({RESPTRACE_BINARY, "-r", copy, "-p", "6380", "-o", "json"});
  ASSERT_EQ(replay.exit_status, 0) << replay.err;
  EXPECT_EQ(replay.out, original.out);
}

}  // namespace
}  // namespace resptrace::live

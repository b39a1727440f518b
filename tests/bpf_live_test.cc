// eBPF live capture end to end in network namespaces the test creates: a redis-server behind a
// veth pair, traced on its veth end (ingress and egress hooks both attached), must be reported
// command by command exactly once; so must one in a container behind a bridge, traced on every
// interface of the host, where the bridge and the veth both capture each segment (libpcap too);
// and after resptrace exits, however it exits, none of its programs or links stays attached.
#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include <bpf/bpf.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/ascii.h"
#include "live_resptrace.h"
#include "redis_harness.h"

namespace resptrace::live {
namespace {

using json = nlohmann::json;
using ::testing::HasSubstr;

[[noreturn]] void Fail(const std::string& what) { throw std::runtime_error(what); }

// Runs argv to completion; throws, with its output, unless it exits 0. Returns its stdout.
std::string Check(const std::vector<std::string>& argv) {
  const ProcessResult r = RunProcess(argv);
  if (r.exit_status != 0) {
    Fail(absl::StrCat(absl::StrJoin(argv, " "), " exited with ", r.exit_status, ": ", r.err));
  }
  return r.out;
}

// A network namespace of this test process, deleted on destruction (after the processes in it:
// declare it before them).
class NetNamespace {
 public:
  explicit NetNamespace(const std::string& role) : name_(absl::StrCat("rt-", role, "-", getpid())) {
    // A namespace of a crashed earlier process that had our pid.
    RunProcess({"ip", "netns", "del", name_});
    Check({"ip", "netns", "add", name_});
    try {
      Check({"ip", "-n", name_, "link", "set", "lo", "up"});
    } catch (...) {
      RunProcess({"ip", "netns", "del", name_});
      throw;
    }
  }
  ~NetNamespace() { RunProcess({"ip", "netns", "del", name_}); }
  NetNamespace(const NetNamespace&) = delete;
  NetNamespace& operator=(const NetNamespace&) = delete;

  const std::string& name() const { return name_; }
  // argv run inside the namespace.
  std::vector<std::string> Exec(const std::vector<std::string>& argv) const {
    std::vector<std::string> out = {"ip", "netns", "exec", name_};
    out.insert(out.end(), argv.begin(), argv.end());
    return out;
  }

 private:
  std::string name_;
};

// resptrace run in `ns` with `args`.
class Resptrace : public LiveResptrace {
 public:
  Resptrace(const NetNamespace& ns, const std::vector<std::string>& args)
      : LiveResptrace(args, ns.Exec({})) {}
};

// Enters the namespace `name` for this thread while alive (sockets made meanwhile stay in it).
class InNamespace {
 public:
  explicit InNamespace(const std::string& name) {
    home_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
    const int target = open(absl::StrCat("/run/netns/", name).c_str(), O_RDONLY | O_CLOEXEC);
    if (home_ < 0 || target < 0 || setns(target, CLONE_NEWNET) != 0) {
      const std::string error = std::strerror(errno);
      if (target >= 0) close(target);
      if (home_ >= 0) close(home_);
      Fail(absl::StrCat("cannot enter network namespace ", name, ": ", error));
    }
    close(target);
  }
  ~InNamespace() {
    if (setns(home_, CLONE_NEWNET) != 0) std::abort();  // every later test would run in it
    close(home_);
  }
  InNamespace(const InNamespace&) = delete;
  InNamespace& operator=(const InNamespace&) = delete;

 private:
  int home_ = -1;
};

std::string Endpoint(const sockaddr_in& a) {
  char ip[INET_ADDRSTRLEN] = {};
  inet_ntop(AF_INET, &a.sin_addr, ip, sizeof ip);
  return absl::StrCat(ip, ":", ntohs(a.sin_port));
}

// A raw TCP client connection from inside a namespace to ip:port.
class NsConnection {
 public:
  NsConnection(const NetNamespace& ns, const std::string& ip, uint16_t port) {
    {
      InNamespace in(ns.name());
      fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    }
    if (fd_ < 0) Fail(absl::StrCat("socket: ", std::strerror(errno)));
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &to.sin_addr);
    if (connect(fd_, reinterpret_cast<sockaddr*>(&to), sizeof to) != 0) {
      const std::string error = std::strerror(errno);
      close(fd_);
      Fail(absl::StrCat("connect to ", ip, ":", port, " from ", ns.name(), ": ", error));
    }
    sockaddr_in local{};
    socklen_t len = sizeof local;
    getsockname(fd_, reinterpret_cast<sockaddr*>(&local), &len);
    endpoint_ = Endpoint(local);
    server_ = Endpoint(to);
  }
  ~NsConnection() { close(fd_); }
  NsConnection(const NsConnection&) = delete;
  NsConnection& operator=(const NsConnection&) = delete;

  const std::string& endpoint() const { return endpoint_; }
  const std::string& server() const { return server_; }

  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) Fail(absl::StrCat("send: ", std::strerror(errno)));
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }
  std::string ReadExactly(size_t n) {
    const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(5000);
    std::string got;
    while (got.size() < n) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      pollfd p = {fd_, POLLIN, 0};
      const int rc = poll(&p, 1, left < 0 ? 0 : static_cast<int>(left));
      if (rc < 0 && errno == EINTR) continue;
      if (rc <= 0) Fail(absl::StrCat("reply incomplete after 5 s; got: ", got));
      char buf[65536];
      const ssize_t r = read(fd_, buf, std::min(sizeof buf, n - got.size()));
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) Fail(absl::StrCat("connection closed; got: ", got));
      got.append(buf, static_cast<size_t>(r));
    }
    return got;
  }

 private:
  int fd_ = -1;
  std::string endpoint_;
  std::string server_;
};

// A value longer than the JSON sink keeps (512 bytes), as the sink shows it.
json Cut(const std::string& value) {
  return json{{"truncated", value.substr(0, 512)}, {"len", value.size()}};
}

constexpr char kServerIp[] = "10.199.1.1";
constexpr char kClientIp[] = "10.199.1.2";
constexpr uint16_t kPort = 6390;
constexpr char kServerVeth[] = "rt-srv0";
constexpr char kClientVeth[] = "rt-cli0";

// Two namespaces joined by a veth pair: kServerIp on kServerVeth in `server`, kClientIp on
// kClientVeth in `client`. The pair dies with the namespaces.
struct VethPair {
  VethPair() {
    Check({"ip", "-n", server.name(), "link", "add", kServerVeth, "type", "veth", "peer", "name",
           kClientVeth, "netns", client.name()});
    Check({"ip", "-n", server.name(), "addr", "add", absl::StrCat(kServerIp, "/24"), "dev",
           kServerVeth});
    Check({"ip", "-n", client.name(), "addr", "add", absl::StrCat(kClientIp, "/24"), "dev",
           kClientVeth});
    Check({"ip", "-n", server.name(), "link", "set", kServerVeth, "up"});
    Check({"ip", "-n", client.name(), "link", "set", kClientVeth, "up"});
  }
  NetNamespace server{"srv"};
  NetNamespace client{"cli"};
};

// A redis-server listening on ip:kPort inside `ns`; returns once it accepts connections.
class NsRedisServer {
 public:
  explicit NsRedisServer(const NetNamespace& ns, const std::string& ip = kServerIp)
      : server_(ns.Exec({"redis-server", "--port", std::to_string(kPort), "--bind", ip,
                         "--protected-mode", "no", "--save", "", "--appendonly", "no", "--dir",
                         dir_.path(), "--daemonize", "no"})) {
    server_.WaitUntil(
        [this] { return server_.out().find("Ready to accept connections") != std::string::npos; },
        "redis-server's 'Ready to accept connections'");
  }

 private:
  TempDir dir_;
  BackgroundProcess server_;
};

// The fields of a command record that the script determines.
json Expected(const NsConnection& c, const std::vector<std::string>& command,
              const std::vector<json>& args, const std::string& reply_type, const json& reply,
              size_t reply_bytes) {
  return json{{"type", "command"},
              {"client", c.endpoint()},
              {"server", c.server()},
              {"cmd", command[0]},
              {"args", args},
              {"reply_type", reply_type},
              {"reply", reply},
              {"req_bytes", EncodeCommand(command).size()},
              {"reply_bytes", reply_bytes}};
}
json Expected(const NsConnection& c, const std::vector<std::string>& command,
              const std::string& reply_type, const json& reply, size_t reply_bytes) {
  std::vector<json> args(command.begin() + 1, command.end());
  return Expected(c, command, args, reply_type, reply, reply_bytes);
}

void Exchange(NsConnection& c, const std::vector<std::string>& command, const std::string& reply) {
  c.Send(EncodeCommand(command));
  EXPECT_EQ(c.ReadExactly(reply.size()), reply);
}

const std::string kWrongType =
    "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n";

// The script the tests run from `client_ns` against the redis-server at server_ip:kPort, on
// two connections; returns the records it must give, in order.
std::vector<json> RunScript(const NetNamespace& client_ns, const std::string& server_ip) {
  std::vector<json> expected;
  // Larger than the veth's MTU both ways: several segments, or one GSO packet.
  const std::string big(6000, 'v');
  {
    NsConnection c(client_ns, server_ip, kPort);
    Exchange(c, {"SET", "greeting", "hello"}, "+OK\r\n");
    expected.push_back(Expected(c, {"SET", "greeting", "hello"}, "simple", "OK", 5));
    Exchange(c, {"GET", "greeting"}, "$5\r\nhello\r\n");
    expected.push_back(Expected(c, {"GET", "greeting"}, "bulk", "hello", 11));
    const std::string replies = "+OK\r\n:11\r\n$2\r\n11\r\n";
    c.Send(EncodeCommand({"SET", "n", "10"}) + EncodeCommand({"INCR", "n"}) +
           EncodeCommand({"GET", "n"}));
    EXPECT_EQ(c.ReadExactly(replies.size()), replies);
    expected.push_back(Expected(c, {"SET", "n", "10"}, "simple", "OK", 5));
    expected.push_back(Expected(c, {"INCR", "n"}, "integer", 11, 5));
    expected.push_back(Expected(c, {"GET", "n"}, "bulk", "11", 8));
    Exchange(c, {"LPUSH", "greeting", "x"}, kWrongType);
    expected.push_back(Expected(c, {"LPUSH", "greeting", "x"}, "error",
                                json{{"error", kWrongType.substr(1, kWrongType.size() - 3)}},
                                kWrongType.size()));
    Exchange(c, {"SET", "big", big}, "+OK\r\n");
    expected.push_back(Expected(c, {"SET", "big", big}, {"big", Cut(big)}, "simple", "OK", 5));
    const std::string big_reply = absl::StrCat("$", big.size(), "\r\n", big, "\r\n");
    Exchange(c, {"GET", "big"}, big_reply);
    expected.push_back(Expected(c, {"GET", "big"}, "bulk", Cut(big), big_reply.size()));
  }
  {
    NsConnection c(client_ns, server_ip, kPort);
    Exchange(c, {"GET", "missing"}, "$-1\r\n");
    expected.push_back(Expected(c, {"GET", "missing"}, "null", nullptr, 5));
  }
  return expected;
}

// Each record has the fields `expected` gives it, and a reply.
void ExpectRecords(const std::vector<json>& records, const std::vector<json>& expected,
                   const std::string& output) {
  ASSERT_EQ(records.size(), expected.size()) << output;
  for (size_t i = 0; i < records.size(); ++i) {
    SCOPED_TRACE(records[i].dump());
    for (const auto& [key, value] : expected[i].items()) EXPECT_EQ(records[i].at(key), value) << key;
    EXPECT_FALSE(records[i].contains("no_reply"));
  }
}

class VethTest : public ::testing::TestWithParam<std::string> {};

TEST_P(VethTest, RecordsEachCommandOnceAcrossAVethPair) {
  const std::string backend = GetParam();
  VethPair net;
  NsRedisServer redis(net.server);
  Resptrace trace(net.server, {"-i", kServerVeth, "--backend", backend, "-p",
                               std::to_string(kPort), "-o", "json"});
  SKIP_OR_FAIL_UNLESS_BPF(trace);
  // Requests come in at ingress (tcx, or XDP), replies leave at tcx egress.
  EXPECT_EQ(trace.err(), absl::StrCat("resptrace: capturing on ", kServerVeth,
                                      backend == "tc" ? ": tcx ingress, tcx egress (eBPF)\n"
                                                      : ": xdp, tcx egress (eBPF)\n"));

  const std::vector<json> expected = RunScript(net.client, kServerIp);
  trace.WaitUntil([&] { return CountLines(trace.out()) >= expected.size(); },
                  absl::StrCat(expected.size(), " records"));
  trace.Signal(SIGINT);
  ASSERT_EQ(trace.WaitExit(), 0) << trace.err();

  ExpectRecords(JsonLines(trace.out()), expected, trace.out());
  EXPECT_THAT(trace.err(), HasSubstr(" 2 flows, 9 commands, 9 replies, 0 unanswered, 0 pushes, "
                                     "0 anomalies, 0 gaps (0 bytes)\n"));
  EXPECT_THAT(trace.err(), HasSubstr("resptrace: eBPF: 0 records lost (ring buffer full, 0 payload "
                                     "bytes), 0 payload bytes past the snaplen, 0 segments with "
                                     "chunks missing\n"));
}

INSTANTIATE_TEST_SUITE_P(Backends, VethTest, ::testing::Values("tc", "xdp"),
                         [](const auto& info) { return info.param; });

constexpr char kBridgeIp[] = "10.199.2.1";
constexpr char kContainerIp[] = "10.199.2.2";
constexpr char kBridge[] = "rt-br0";
constexpr char kHostVeth[] = "rt-vh0";
constexpr char kContainerVeth[] = "rt-eth0";

// A host with a container behind a bridge: in `host`, kBridge carries kBridgeIp and has one
// port, kHostVeth, whose peer kContainerVeth is in `container` with kContainerIp. What the host
// sends to the container leaves through the bridge and then through the veth; replies come in
// the other way round. Everything dies with the namespaces.
struct BridgedContainer {
  BridgedContainer() {
    Check({"ip", "-n", host.name(), "link", "add", kBridge, "type", "bridge"});
    Check({"ip", "-n", host.name(), "link", "add", kHostVeth, "type", "veth", "peer", "name",
           kContainerVeth, "netns", container.name()});
    Check({"ip", "-n", host.name(), "link", "set", kHostVeth, "master", kBridge});
    Check({"ip", "-n", host.name(), "addr", "add", absl::StrCat(kBridgeIp, "/24"), "dev", kBridge});
    Check({"ip", "-n", container.name(), "addr", "add", absl::StrCat(kContainerIp, "/24"), "dev",
           kContainerVeth});
    Check({"ip", "-n", host.name(), "link", "set", kBridge, "up"});
    Check({"ip", "-n", host.name(), "link", "set", kHostVeth, "up"});
    Check({"ip", "-n", container.name(), "link", "set", kContainerVeth, "up"});
  }
  NetNamespace host{"host"};
  NetNamespace container{"ctr"};
};

// The summary's tcp line, "  tcp: ... N duplicates from a second interface\n"; empty when
// there is none.
std::string TcpLine(const std::string& err) {
  const size_t begin = err.find("  tcp: ");
  if (begin == std::string::npos) return "";
  return err.substr(begin, err.find('\n', begin) + 1 - begin);
}

// The N of the tcp line's "N duplicates from a second interface"; 0 without one.
uint64_t Duplicates(const std::string& tcp_line) {
  const size_t end = tcp_line.find(" duplicates from a second interface\n");
  if (end == std::string::npos) return 0;
  const size_t begin = tcp_line.rfind(' ', end - 1) + 1;
  uint64_t n = 0;
  return absl::SimpleAtoi(tcp_line.substr(begin, end - begin), &n) ? n : 0;
}

// With every interface traced, the bridge and the container's veth both capture each segment
// between the host and its container: each command must still be reported once, the second
// copies counted apart from retransmissions, and what -w saved must replay the same way.
class BridgeTest : public ::testing::TestWithParam<std::string> {};

TEST_P(BridgeTest, EachCommandOnceThoughTheBridgeAndTheVethBothCaptureIt) {
  const std::string backend = GetParam();
  BridgedContainer net;
  NsRedisServer redis(net.container, kContainerIp);
  TempDir dir;
  const std::string saved = dir.path() + "/any.pcap";
  const std::string port = std::to_string(kPort);
  Resptrace trace(net.host,
                  {"-i", "any", "--backend", backend, "-p", port, "-o", "json", "-w", saved});
  if (backend == "pcap") {
    EXPECT_EQ(trace.err(), "resptrace: capturing on any (libpcap)\n");
  } else {
    SKIP_OR_FAIL_UNLESS_BPF(trace);
    const std::string attached =
        absl::StrCat("resptrace: capturing on lo: ", backend == "tc" ? "tcx egress" : "xdp", "; ",
                     kBridge, ": ", backend == "tc" ? "tcx ingress" : "xdp", ", tcx egress; ",
                     kHostVeth, ": ");
    // The bridge has XDP first; kernels that refuse XDP below it get TC ingress on its port.
    EXPECT_THAT(trace.err(),
                ::testing::AnyOf(absl::StrCat(attached, "tcx ingress, tcx egress (eBPF)\n"),
                                 absl::StrCat(attached, backend == "tc" ? "tcx ingress" : "xdp",
                                              ", tcx egress (eBPF)\n")));
  }

  const std::vector<json> expected = RunScript(net.host, kContainerIp);
  trace.WaitForRecords(expected.size());
  trace.Signal(SIGINT);
  ASSERT_EQ(trace.WaitExit(), 0) << trace.err();

  ExpectRecords(JsonLines(trace.out()), expected, trace.out());
  EXPECT_THAT(trace.err(), HasSubstr(" 2 flows, 9 commands, 9 replies, 0 unanswered, 0 pushes, "
                                     "0 anomalies, 0 gaps (0 bytes)\n"));
  // Not one copy taken for a retransmission, an overlap or a reordering.
  const std::string tcp = TcpLine(trace.err());
  EXPECT_THAT(tcp, ::testing::StartsWith("  tcp: 0 out of order, 0 retransmitted, 0 overlapping, "))
      << trace.err();
  EXPECT_GT(Duplicates(tcp), 0u) << trace.err();

  // The saved capture keeps each segment's interface: the same records, the same copies.
  const ProcessResult replay =
      RunProcess({RESPTRACE_BINARY, "-r", saved, "-p", port, "-o", "json"});
  ASSERT_EQ(replay.exit_status, 0) << replay.err;
  EXPECT_EQ(replay.out, trace.out());
  EXPECT_EQ(TcpLine(replay.err), tcp);
  if (backend == "pcap") {
    // libpcap saw only the port's packets: the same summary too.
    const std::string live_summary = trace.err().substr(trace.err().find("resptrace: ", 1));
    EXPECT_EQ(replay.err, live_summary.substr(0, live_summary.find("resptrace: ", 1)));
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BridgeTest, ::testing::Values("tc", "xdp", "pcap"),
                         [](const auto& info) { return info.param; });

// The BPF objects a process holds, from /proc/<pid>/fdinfo.
struct HeldBpf {
  std::set<uint32_t> prog_ids;
  std::set<uint32_t> link_ids;
  std::vector<std::string> links;  // "<link_type> ifindex <n>"
};

HeldBpf BpfHeldBy(pid_t pid) {
  HeldBpf held;
  const std::string dir = absl::StrCat("/proc/", pid, "/fdinfo");
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path());
    std::string line, link_type, ifindex;
    uint32_t prog_id = 0, link_id = 0;
    while (std::getline(in, line)) {
      const std::vector<std::string> kv = absl::StrSplit(line, absl::MaxSplits(':', 1));
      if (kv.size() != 2) continue;
      const std::string value(absl::StripAsciiWhitespace(kv[1]));
      if (kv[0] == "prog_id") (void)absl::SimpleAtoi(value, &prog_id);
      if (kv[0] == "link_id") (void)absl::SimpleAtoi(value, &link_id);
      if (kv[0] == "link_type") link_type = value;
      if (kv[0] == "ifindex") ifindex = value;
    }
    if (link_id != 0) {
      held.link_ids.insert(link_id);
      held.links.push_back(absl::StrCat(link_type, " ifindex ", ifindex));
    } else if (prog_id != 0) {
      held.prog_ids.insert(prog_id);
    }
  }
  std::sort(held.links.begin(), held.links.end());
  return held;
}

// Which of `ids` still exist as BPF links (or programs), asked of the kernel id by id: listing
// every object with bpftool races with the other tests, whose objects go away under it.
std::vector<uint32_t> Existing(const std::set<uint32_t>& ids, bool links) {
  std::vector<uint32_t> out;
  for (const uint32_t id : ids) {
    const int fd = links ? bpf_link_get_fd_by_id(id) : bpf_prog_get_fd_by_id(id);
    if (fd >= 0) {
      close(fd);
      out.push_back(id);
    } else if (errno != ENOENT) {
      Fail(absl::StrCat("looking up BPF ", links ? "link " : "program ", id, ": ",
                        std::strerror(errno)));
    }
  }
  return out;
}

// Everything bpftool and tc can see attached to lo in `ns` (which is private to this test).
void ExpectNothingAttachedToLo(const NetNamespace& ns) {
  const json net = json::parse(Check(ns.Exec({"bpftool", "-j", "net", "show", "dev", "lo"})));
  EXPECT_EQ(net, json::parse(R"([{"xdp":[],"tc":[],"flow_dissector":[]}])"));
  EXPECT_EQ(Check(ns.Exec({"tc", "filter", "show", "dev", "lo", "ingress"})), "");
  EXPECT_EQ(Check(ns.Exec({"tc", "filter", "show", "dev", "lo", "egress"})), "");
}

// After resptrace is gone, none of its links and programs exists any more. The kernel frees
// them as the process's files close, which can finish just after the exit is reported: wait
// for it, up to a bound.
void ExpectReleased(const HeldBpf& held) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while ((!Existing(held.link_ids, true).empty() || !Existing(held.prog_ids, false).empty()) &&
         std::chrono::steady_clock::now() < deadline) {
    poll(nullptr, 0, 10);
  }
  EXPECT_THAT(Existing(held.link_ids, true), ::testing::IsEmpty());
  EXPECT_THAT(Existing(held.prog_ids, false), ::testing::IsEmpty());
}

class CleanupTest : public ::testing::TestWithParam<std::string> {};

TEST_P(CleanupTest, NothingStaysAttachedAfterSigintOrKill) {
  const std::string backend = GetParam();
  NetNamespace ns("bpf");
  const std::vector<std::string> args = {"-i", "lo", "--backend", backend, "-p", "6379", "-o",
                                         "json"};
  // bpftool 7.1 does not list tcx links under `net show`: the process's own fds say what it
  // attached, and their ids must be gone from the system afterwards.
  const std::vector<std::string> attached = {backend == "tc" ? "tcx ifindex 1" : "xdp ifindex 1"};
  const std::string capturing = absl::StrCat("resptrace: capturing on lo: ",
                                             backend == "tc" ? "tcx egress" : "xdp", " (eBPF)\n");
  ExpectNothingAttachedToLo(ns);

  for (const char* how : {"SIGINT", "SIGKILL", "SIGINT after SIGKILL"}) {
    SCOPED_TRACE(how);
    Resptrace trace(ns, args);
    SKIP_OR_FAIL_UNLESS_BPF(trace);
    EXPECT_EQ(trace.err(), capturing);
    const HeldBpf held = BpfHeldBy(trace.pid());
    EXPECT_EQ(held.links, attached);
    // Only the programs the hook uses are loaded: tc ingress and egress, or xdp and tc egress.
    EXPECT_EQ(held.prog_ids.size(), 2u);
    // The checks below would see these ids if they were left.
    EXPECT_THAT(Existing(held.link_ids, true), ::testing::ElementsAreArray(held.link_ids));
    EXPECT_THAT(Existing(held.prog_ids, false), ::testing::ElementsAreArray(held.prog_ids));
    if (backend == "xdp") {
      const json net = json::parse(Check(ns.Exec({"bpftool", "-j", "net", "show", "dev", "lo"})));
      ASSERT_EQ(net.at(0).at("xdp").size(), 1u) << net;
      EXPECT_EQ(net.at(0).at("xdp").at(0).at("devname"), "lo");
    }

    if (std::string(how) == "SIGKILL") {
      trace.Signal(SIGKILL);
      EXPECT_EQ(trace.WaitExit(), 128 + SIGKILL);
    } else {
      trace.Signal(SIGINT);
      EXPECT_EQ(trace.WaitExit(), 0) << trace.err();
      EXPECT_THAT(trace.err(), HasSubstr("resptrace: 0 packets, 0 flows, 0 commands"));
    }
    ExpectNothingAttachedToLo(ns);
    ExpectReleased(held);
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, CleanupTest, ::testing::Values("tc", "xdp"),
                         [](const auto& info) { return info.param; });

}  // namespace
}  // namespace resptrace::live

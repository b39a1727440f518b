// The whole binary on captures in which every segment appears twice, once per interface (as on
// a host that traces both a bridge and a container's veth): each command is reported once, the
// second copies are counted apart from retransmissions, and -w keeps the interfaces, so its file
// replays the same. Without interfaces (a plain Ethernet capture), copies stay retransmissions.
#include <pcap/pcap.h>
#include <unistd.h>

#include <filesystem>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "pcap_builder.h"
#include "run_resptrace.h"

namespace resptrace {
namespace {

using json = nlohmann::json;
using ::resptrace::test::EthernetFrame;
using ::resptrace::test::PcapFileWriter;
using ::resptrace::test::PcapngBuilder;
using ::resptrace::test::Sll2Frame;
using ::resptrace::test::TcpHeader;
using ::resptrace::test::TcpIpPacket;
using resptrace_test::RunResptrace;
using resptrace_test::RunResult;

constexpr char kClient[] = "10.0.0.1";
constexpr char kServer[] = "10.0.0.2";

// One segment of the conversation as both interfaces captured it.
struct Captured {
  int64_t ts_ns;
  bool from_client;
  std::string ip_packet;
};

// A connection with PING, then SET and GET pipelined, a retransmission of the server's
// second reply segment 200 ms later (an RTO: captured again on both interfaces), and the close.
std::vector<Captured> Conversation() {
  std::vector<Captured> out;
  uint32_t client_seq = 1000, server_seq = 5000;
  int64_t ts = 1'700'000'000'000'000'000;
  auto send = [&](bool from_client, uint8_t flags, const std::string& payload) {
    TcpHeader t;
    t.src_port = from_client ? 50000 : 6379;
    t.dst_port = from_client ? 6379 : 50000;
    t.seq = from_client ? client_seq : server_seq;
    t.ack = from_client ? server_seq : client_seq;
    t.flags = flags;
    const uint32_t len = static_cast<uint32_t>(payload.size()) +
                         ((flags & (tcp_flags::kSyn | tcp_flags::kFin)) != 0 ? 1 : 0);
    (from_client ? client_seq : server_seq) += len;
    ts += 1'000'000;
    out.push_back({ts, from_client,
                   TcpIpPacket(from_client ? kClient : kServer, from_client ? kServer : kClient, t,
                               payload)});
  };
  constexpr uint8_t kData = tcp_flags::kAck | tcp_flags::kPsh;
  send(true, tcp_flags::kSyn, "");
  send(false, tcp_flags::kSyn | tcp_flags::kAck, "");
  send(true, tcp_flags::kAck, "");
  send(true, kData, "*1\r\n$4\r\nPING\r\n");
  send(false, kData, "+PONG\r\n");
  send(true, kData, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
  send(false, kData, "+OK\r\n");
  send(false, kData, "$1\r\nv\r\n");
  Captured resent = out.back();
  resent.ts_ns += 200'000'000;
  out.push_back(resent);
  ts = resent.ts_ns;
  send(true, tcp_flags::kAck | tcp_flags::kFin, "");
  send(false, tcp_flags::kAck | tcp_flags::kFin, "");
  send(true, tcp_flags::kAck, "");
  return out;
}

// How a capture holds each segment twice. `write` is given each copy in capture order: the
// sender's side first (client: interface A, server: interface B), the other 2 us later.
struct Layout {
  const char* name;
  std::function<std::string(const std::string& dir, const std::vector<Captured>&)> write;
  const char* tcp_line;  // the summary's
};

std::string WritePcapng(const std::string& dir, const std::vector<Captured>& conversation) {
  PcapngBuilder b;
  b.Interface(DLT_EN10MB);
  b.Interface(DLT_EN10MB);
  for (const Captured& c : conversation) {
    const std::string frame = EthernetFrame(test::kEtherIpv4, c.ip_packet);
    b.Packet(c.from_client ? 0 : 1, c.ts_ns, frame);
    b.Packet(c.from_client ? 1 : 0, c.ts_ns + 2'000, frame);
  }
  const std::string path = dir + "/two-interfaces.pcapng";
  test::WriteBytesToFile(path, b.bytes());
  return path;
}

std::string WriteSll2(const std::string& dir, const std::vector<Captured>& conversation) {
  const std::string path = dir + "/any.pcap";
  PcapFileWriter w(path, DLT_LINUX_SLL2);
  for (const Captured& c : conversation) {
    w.Write(c.ts_ns, Sll2Frame(test::kEtherIpv4, c.ip_packet, c.from_client ? 4 : 7));
    w.Write(c.ts_ns + 2'000, Sll2Frame(test::kEtherIpv4, c.ip_packet, c.from_client ? 7 : 4));
  }
  return path;
}

std::string WriteEthernet(const std::string& dir, const std::vector<Captured>& conversation) {
  const std::string path = dir + "/no-interfaces.pcap";
  PcapFileWriter w(path, DLT_EN10MB);
  for (const Captured& c : conversation) {
    w.Write(c.ts_ns, EthernetFrame(test::kEtherIpv4, c.ip_packet));
    w.Write(c.ts_ns + 2'000, EthernetFrame(test::kEtherIpv4, c.ip_packet));
  }
  return path;
}

// 24 frames, 12 segments. Copies of the segments that came after the connection closed (the
// server's FIN, the client's last ACK) belong to no connection and are left out, as any
// segment of a closed connection is. The retransmission counts once; its copy is a copy.
// Without interfaces, every copy with payload is a retransmission, as the resent one is.
const Layout kLayouts[] = {
    {"PcapngTwoInterfaces", WritePcapng,
     "  tcp: 0 out of order, 1 retransmitted, 0 overlapping, 10 duplicates from a second "
     "interface\n"},
    {"CookedV2Frames", WriteSll2,
     "  tcp: 0 out of order, 1 retransmitted, 0 overlapping, 10 duplicates from a second "
     "interface\n"},
    {"EthernetWithoutInterfaces", WriteEthernet,
     "  tcp: 0 out of order, 7 retransmitted, 0 overlapping, 0 duplicates from a second "
     "interface\n"},
};

void PrintTo(const Layout& l, std::ostream* os) { *os << l.name; }

class InterfaceCopiesTest : public ::testing::TestWithParam<Layout> {
 protected:
  void SetUp() override {
    std::string templ = ::testing::TempDir() + "/interface-copies-XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

std::string Describe(const RunResult& r) {
  return "exit " + std::to_string(r.exit_code) + "\nstderr: " + r.err;
}

TEST_P(InterfaceCopiesTest, EachCommandOnceAndTheCopiesCountedApart) {
  const std::string capture = GetParam().write(dir_, Conversation());
  const std::string saved = dir_ + "/saved.pcap";
  const RunResult r = RunResptrace({"-r", capture, "-o", "json", "-w", saved});
  ASSERT_EQ(r.exit_code, 0) << Describe(r);
  std::vector<json> records;
  std::string error;
  ASSERT_TRUE(resptrace_test::ParseJsonLines(r.out, &records, &error)) << error;
  ASSERT_EQ(records.size(), 3u) << r.out;
  const std::string expected[][3] = {{"PING", "simple", "PONG"}, {"SET", "simple", "OK"},
                                     {"GET", "bulk", "v"}};
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(records[i].dump());
    EXPECT_EQ(records[i].at("cmd"), expected[i][0]);
    EXPECT_EQ(records[i].at("reply_type"), expected[i][1]);
    EXPECT_EQ(records[i].at("reply"), expected[i][2]);
  }
  EXPECT_EQ(r.err, std::string("resptrace: 24 packets, 1 flows, 3 commands, 3 replies, "
                               "0 unanswered, 0 pushes, 0 anomalies, 0 gaps (0 bytes)\n") +
                       GetParam().tcp_line);

  // What -w wrote replays to the very same records and summary.
  const RunResult replay = RunResptrace({"-r", saved, "-o", "json"});
  ASSERT_EQ(replay.exit_code, 0) << Describe(replay);
  EXPECT_EQ(replay.out, r.out);
  EXPECT_EQ(replay.err, r.err);
}

INSTANTIATE_TEST_SUITE_P(Layouts, InterfaceCopiesTest, ::testing::ValuesIn(kLayouts),
                         [](const auto& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace resptrace

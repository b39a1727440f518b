// The collector core from segments to records: flow table, direction, reassembly, pairing
// and connection ends, with segments crafted by hand.
#include "resptrace/collector.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "tcp_conversation.h"

namespace resptrace {
namespace {

struct Seen {
  std::string client, server, cmd, reply, no_reply;
  uint64_t reply_len = 0;  // the reply's full length, when it is a scalar
  bool reply_cut = false;  // and it is kept only in part
  uint64_t reply_missing = 0;  // and bytes of it were lost
};

class RecordingSink : public RecordSink {
 public:
  void Write(const Record& r) override {
    if (r.kind == RecordKind::kGap) {
      gaps.push_back({r.gap_in_requests, r.gap_bytes});
      return;
    }
    Seen s{r.client->ToString(), r.server->ToString(), "", "", std::string(NoReplyName(r.no_reply))};
    if (r.request != nullptr && r.request->root() != nullptr && r.request->root()->children > 0) {
      s.cmd = std::string(r.request->data(*Message::first_child(r.request->root())));
    }
    if (r.reply != nullptr && r.reply->root() != nullptr) {
      s.reply = std::string(r.reply->data(*r.reply->root()));
      s.reply_len = r.reply->root()->full_len;
      s.reply_cut = r.reply->root()->truncated;
      s.reply_missing = r.reply->root()->missing;
    }
    seen.push_back(s);
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  std::vector<Seen> seen;
  struct Gap {
    bool in_requests;
    uint64_t bytes;
  };
  std::vector<Gap> gaps;  // gap records, apart
};

Endpoint V4(uint8_t last, uint16_t port) {
  const uint8_t b[4] = {10, 0, 0, last};
  return Endpoint{IpAddress::V4(b), port};
}

using Conn = test::TcpConversation;

// The handshake, so that the collector knows the connection from its start.
void Open(Collector& c, Conn& k, int64_t ts) {
  c.OnSegment(k.Syn(ts));
  c.OnSegment(k.SynAck(ts));
}

class CollectorTest : public ::testing::Test {
 protected:
  CollectorOptions options_;
  RecordingSink sink_;
};

TEST_F(CollectorTest, PairsAcrossAFullConnection) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  c.OnSegment(k.Syn(1));
  c.OnSegment(k.SynAck(2));
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 3));
  c.OnSegment(k.FromServer("+PONG\r\n", 4));
  c.OnSegment(k.FromClient("*1\r\n$4\r\nQUIT\r\n", 5));
  c.OnSegment(k.FromServer("+OK\r\n", 6, tcp_flags::kFin));
  c.OnSegment(k.FromClient("", 7, tcp_flags::kFin));
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[0].client, "10.0.0.1:50000");
  EXPECT_EQ(sink_.seen[0].server, "10.0.0.2:6379");
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(sink_.seen[1].cmd, "QUIT");
  EXPECT_EQ(sink_.seen[1].reply, "OK");
  EXPECT_EQ(c.active_connections(), 0u);
  EXPECT_EQ(c.counters().closed_fin, 1u);
}

TEST_F(CollectorTest, ServerSideComesFromThePortWhateverSpeaksFirst) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  c.OnSegment(k.FromServer("+OK\r\n", 1));  // mid-stream, the server's bytes first
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 2));
  c.OnSegment(k.FromServer("+PONG\r\n", 3));
  c.OnSegment(k.FromClient("", 4));  // the client had the PONG: the PING was alone
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].server, "10.0.0.2:6379");
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(c.counters().session.orphan_replies, 1u);
}

TEST_F(CollectorTest, BothPortsConfiguredTheSynDecides) {
  options_.server_ports = {6379, 6380};
  Collector c(options_, &sink_);
  Conn k(V4(1, 6380), V4(2, 6379));
  c.OnSegment(k.Syn(1));
  c.OnSegment(k.SynAck(2));
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 3));
  c.OnSegment(k.FromServer("+PONG\r\n", 4));
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].client, "10.0.0.1:6380");
  EXPECT_EQ(sink_.seen[0].server, "10.0.0.2:6379");
}

TEST_F(CollectorTest, OtherPortsAreIgnored) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 80));
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 1));
  c.Finish();
  EXPECT_TRUE(sink_.seen.empty());
  EXPECT_EQ(c.counters().ignored_segments, 1u);
  EXPECT_EQ(c.counters().flows, 0u);
}

TEST_F(CollectorTest, ResetReportsWaitingCommands) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  c.OnSegment(k.FromClient("*2\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n", 1));
  c.OnSegment(k.FromClient("", 2, tcp_flags::kRst));
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].no_reply, "reset");
  EXPECT_EQ(c.active_connections(), 0u);
}

TEST_F(CollectorTest, IdleConnectionsTimeOut) {
  options_.idle_timeout_ns = 10'000'000'000;
  Collector c(options_, &sink_);
  Conn a(V4(1, 50000), V4(2, 6379));
  Conn b(V4(3, 50000), V4(2, 6379));
  Open(c, a, 1'000'000'000);
  c.OnSegment(a.FromClient("*1\r\n$4\r\nPING\r\n", 1'000'000'000));
  Open(c, b, 20'000'000'000);
  c.OnSegment(b.FromClient("*1\r\n$4\r\nPING\r\n", 20'000'000'000));
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].client, "10.0.0.1:50000");
  EXPECT_EQ(sink_.seen[0].no_reply, "timeout");
  EXPECT_EQ(c.active_connections(), 1u);
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[1].no_reply, "eof");
}

// --- Limits ---------------------------------------------------------------------------

// A GET and its reply of `value_len` bytes, the reply cut in segments at `cuts` (offsets in
// the reply), which the test delivers in the order it wants.
struct SplitReply {
  SplitReply(uint8_t host, size_t value_len, std::vector<size_t> cuts)
      : conn(V4(host, 50000), V4(200, 6379)),
        value(value_len, static_cast<char>('a' + host % 26)),
        reply("$" + std::to_string(value_len) + "\r\n" + value + "\r\n"),
        cuts(std::move(cuts)) {}
  // Opens the connection and sends the GET; the reply's segments are then in `parts`.
  void Ask(Collector& c) {
    Open(c, conn, 1);
    c.OnSegment(conn.FromClient("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 2));
    size_t from = 0;
    for (size_t i = 0; i <= cuts.size(); ++i) {
      const size_t to = i < cuts.size() ? cuts[i] : reply.size();
      parts.push_back(conn.FromServer(std::string_view(reply).substr(from, to - from), 3));
      from = to;
    }
  }
  Conn conn;
  std::string value;
  std::string reply;
  std::vector<size_t> cuts;
  std::vector<Segment> parts;
};

TEST_F(CollectorTest, MaxFlowsEndsTheLeastRecentlyActiveConnection) {
  options_.max_flows = 2;
  Collector c(options_, &sink_);
  Conn a(V4(1, 50000), V4(200, 6379));
  Conn b(V4(2, 50000), V4(200, 6379));
  Conn d(V4(3, 50000), V4(200, 6379));
  Open(c, a, 1);
  c.OnSegment(a.FromClient("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 2));
  Open(c, b, 3);
  c.OnSegment(b.FromClient("*1\r\n$4\r\nPING\r\n", 4));
  c.OnSegment(a.FromServer("$1\r\nv\r\n", 5));  // a, older, was active more recently
  Open(c, d, 6);
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[0].cmd, "GET");
  EXPECT_EQ(sink_.seen[0].reply, "v");
  EXPECT_EQ(sink_.seen[1].client, "10.0.0.2:50000");
  EXPECT_EQ(sink_.seen[1].cmd, "PING");
  EXPECT_EQ(sink_.seen[1].no_reply, "evicted");
  EXPECT_EQ(c.active_connections(), 2u);
  EXPECT_EQ(c.counters().evictions, 1u);
  // Both that are left carry on.
  c.OnSegment(a.FromClient("*1\r\n$4\r\nPING\r\n", 7));
  c.OnSegment(d.FromClient("*1\r\n$4\r\nPING\r\n", 8));
  c.OnSegment(a.FromServer("+PONG\r\n", 9));
  c.OnSegment(d.FromServer("+PONG\r\n", 10));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 4u);
  EXPECT_EQ(sink_.seen[2].client, "10.0.0.1:50000");
  EXPECT_EQ(sink_.seen[2].reply, "PONG");
  EXPECT_EQ(sink_.seen[3].client, "10.0.0.3:50000");
  EXPECT_EQ(sink_.seen[3].reply, "PONG");
  EXPECT_EQ(c.counters().evictions, 1u);
}

// Past --max-flow-bytes the hole waited on longest becomes a gap: inside a value, its bytes
// are missing and the reply still pairs.
TEST_F(CollectorTest, MaxFlowBytesGivesUpTheOldestHole) {
  options_.max_flow_bytes = 2000;
  Collector c(options_, &sink_);
  SplitReply r(1, 3000, {100, 600, 1600, 2600});
  r.Ask(c);
  c.OnSegment(r.parts[0]);  // the header and the first bytes: in order
  c.OnSegment(r.parts[2]);  // 1000 bytes held behind a hole of 500
  EXPECT_EQ(c.counters().flow_bytes_hits, 0u);
  const uint64_t held = c.held_bytes();
  EXPECT_GT(held, 1000u);
  c.OnSegment(r.parts[3]);  // 1000 more: past the limit
  EXPECT_EQ(c.counters().flow_bytes_hits, 1u);
  EXPECT_EQ(c.held_bytes(), 0u);
  EXPECT_EQ(c.counters().reassembly.gaps, 1u);
  EXPECT_EQ(c.counters().reassembly.gap_bytes, 500u);
  c.OnSegment(r.parts[4]);
  c.OnSegment(r.parts[1]);  // too late: counted as seen already
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].cmd, "GET");
  EXPECT_EQ(sink_.seen[0].reply_len, 3000u);
  EXPECT_EQ(sink_.seen[0].reply_missing, 500u);
  EXPECT_EQ(sink_.seen[0].reply, r.value.substr(0, 100 - 7));
  EXPECT_EQ(c.held_bytes(), 0u);
  EXPECT_TRUE(sink_.gaps.empty());  // the value says what it lost
}

// A line held across segments counts too; with nothing held out of order, it is what is
// given up, as lost bytes.
TEST_F(CollectorTest, MaxFlowBytesGivesUpALineHeldAcrossSegments) {
  options_.max_flow_bytes = 100;
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(200, 6379));
  Open(c, k, 1);
  c.OnSegment(k.FromClient("ECHO " + std::string(90, 'x'), 2));  // an inline line, no end yet
  EXPECT_EQ(c.held_bytes(), 95u);
  c.OnSegment(k.FromClient(std::string(10, 'x'), 3));
  EXPECT_EQ(c.counters().flow_bytes_hits, 1u);
  EXPECT_EQ(c.held_bytes(), 0u);
  c.OnSegment(k.FromClient("\r\n*1\r\n$4\r\nPING\r\n", 4));
  c.OnSegment(k.FromServer("-ERR unknown command\r\n+PONG\r\n", 5));
  c.Finish();
  // The lost line is a lost request: the PING, sent after it, waits for a proof of step
  // that never comes, since which reply answers it is unknown.
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].cmd, "PING");
  EXPECT_EQ(sink_.seen[0].no_reply, "desync");
  EXPECT_EQ(sink_.seen[0].reply, "");
}

// Past --max-buffered-bytes the least recently active connections holding bytes give them
// up, and the others keep theirs.
TEST_F(CollectorTest, MaxBufferedBytesEmptiesTheLeastRecentlyActiveFirst) {
  options_.max_buffered_bytes = 3000;
  Collector c(options_, &sink_);
  std::vector<SplitReply> conns;
  for (uint8_t host = 1; host <= 3; ++host) conns.emplace_back(host, 1200, std::vector<size_t>{100});
  for (SplitReply& r : conns) r.Ask(c);
  c.OnSegment(conns[0].parts[1]);  // each holds its reply's last 1109 bytes
  c.OnSegment(conns[1].parts[1]);
  EXPECT_EQ(c.counters().total_bytes_hits, 0u);
  c.OnSegment(conns[2].parts[1]);  // 3 x 1109 and their bookkeeping: past 3000
  EXPECT_EQ(c.counters().total_bytes_hits, 1u);
  EXPECT_EQ(c.counters().flow_bytes_hits, 0u);
  EXPECT_LE(c.held_bytes(), 3000u);
  EXPECT_EQ(c.counters().reassembly.gaps, 1u);  // the first connection's hole
  for (SplitReply& r : conns) c.OnSegment(r.parts[0]);
  c.Finish();
  EXPECT_EQ(c.held_bytes(), 0u);
  ASSERT_EQ(sink_.seen.size(), 3u);
  EXPECT_EQ(sink_.seen[0].client, "10.0.0.1:50000");
  EXPECT_EQ(sink_.seen[0].no_reply, "gap");
  for (size_t i = 1; i < 3; ++i) {
    EXPECT_EQ(sink_.seen[i].client, conns[i].conn.FromClient("", 0).flow.src.ToString());
    EXPECT_EQ(sink_.seen[i].reply, conns[i].value.substr(0, 512));
    EXPECT_EQ(sink_.seen[i].reply_len, 1200u);
    EXPECT_EQ(sink_.seen[i].reply_missing, 0u);
  }
}

// When the connection that went past holds all there is, it gives up its own, oldest first.
TEST_F(CollectorTest, MaxBufferedBytesHeldByOneConnectionAloneIsItsOwnToGiveUp) {
  options_.max_buffered_bytes = 1500;
  Collector c(options_, &sink_);
  SplitReply r(1, 2000, {100, 600, 1100});
  r.Ask(c);
  c.OnSegment(r.parts[0]);
  c.OnSegment(r.parts[2]);  // 500 held behind a hole of 500
  c.OnSegment(r.parts[3]);  // 909 more, ahead of the first run: past 1500 together
  EXPECT_EQ(c.counters().total_bytes_hits, 1u);
  EXPECT_EQ(c.held_bytes(), 0u);  // the one hole given up, all that was behind it delivered
  c.OnSegment(r.parts[1]);
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].reply_len, 2000u);
  EXPECT_EQ(sink_.seen[0].reply_missing, 500u);
}

TEST_F(CollectorTest, ReorderedAndRetransmittedSegmentsPairOnce) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  c.OnSegment(k.Syn(0));  // with the handshake seen, a later segment first is out of order
  c.OnSegment(k.SynAck(0));
  Segment first = k.FromClient("*2\r\n$3\r\nGET\r\n", 1);
  Segment second = k.FromClient("$1\r\na\r\n", 2);
  c.OnSegment(second);
  c.OnSegment(first);
  c.OnSegment(first);  // retransmission
  c.OnSegment(k.FromServer("$1\r\nx\r\n", 3));
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].cmd, "GET");
  EXPECT_EQ(sink_.seen[0].reply, "x");
  EXPECT_EQ(c.counters().reassembly.retransmitted, 1u);
}

TEST_F(CollectorTest, RepliesLostFromTheCaptureAreAGapNotAPairing) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", 1));
  c.OnSegment(k.FromServer("+PONG\r\n", 2));
  k.LoseFromServer(7);  // the second +PONG\r\n never reached the capture
  // The client acknowledges it, so the capture's loss is known at once.
  c.OnSegment(k.FromClient("*1\r\n$4\r\nECHO\r\n", 3));
  c.OnSegment(k.FromServer("+ECHO\r\n", 4));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 3u);
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(sink_.seen[1].no_reply, "gap");
  EXPECT_EQ(sink_.seen[2].cmd, "ECHO");
  EXPECT_EQ(sink_.seen[2].no_reply, "desync");
  EXPECT_EQ(c.counters().reassembly.gaps, 1u);
  EXPECT_EQ(c.counters().reassembly.gap_bytes, 7u);
  // The loss is a record of its own, in the replies.
  ASSERT_EQ(sink_.gaps.size(), 1u);
  EXPECT_FALSE(sink_.gaps[0].in_requests);
  EXPECT_EQ(sink_.gaps[0].bytes, 7u);
}

TEST_F(CollectorTest, SnaplenCutBulkReplyStaysInStep) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  c.OnSegment(k.FromClient("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$4\r\nPING\r\n", 1));
  std::string reply = "$20\r\n01234567890123456789\r\n";
  Segment s = k.FromServer(reply, 2);
  s.payload = std::string_view(reply).substr(0, 10);  // captured: "$20\r\n01234"
  c.OnSegment(s);
  c.OnSegment(k.FromServer("+PONG\r\n", 3));
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[0].reply, "01234");
  EXPECT_EQ(sink_.seen[1].reply, "PONG");
  // Bytes lost inside a value: the value says so, and no gap record is written.
  EXPECT_TRUE(sink_.gaps.empty());
}

// Split across segments or not, a long status or error reply is the same record, though
// only what is printed of it was held in between.
TEST_F(CollectorTest, LongLineRepliesSplitAcrossSegmentsKeepWhatIsPrinted) {
  const std::string status = std::string(2000, 's');
  const std::string error = "ERR " + std::string(2000, 'e');
  for (const size_t split : {size_t{0}, size_t{1}, size_t{100}, size_t{1500}, size_t{2003}}) {
    SCOPED_TRACE(split);
    RecordingSink sink;
    Collector c(options_, &sink);
    Conn k(V4(1, 50000), V4(2, 6379));
    Open(c, k, 1);
    c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", 2));
    const std::string replies = "+" + status + "\r\n-" + error + "\r\n";
    if (split != 0) c.OnSegment(k.FromServer(replies.substr(0, split), 3));
    c.OnSegment(k.FromServer(replies.substr(split), 4));
    ASSERT_EQ(sink.seen.size(), 2u);
    EXPECT_EQ(sink.seen[0].reply, status.substr(0, 512));
    EXPECT_EQ(sink.seen[0].reply_len, 2000u);
    EXPECT_TRUE(sink.seen[0].reply_cut);
    EXPECT_EQ(sink.seen[1].reply, error.substr(0, 512));
    EXPECT_EQ(sink.seen[1].reply_len, 2004u);
    EXPECT_TRUE(sink.seen[1].reply_cut);
    EXPECT_EQ(c.counters().session.errors.by_prefix[0].name(), "ERR");
  }
}

TEST_F(CollectorTest, EndOfInputReportsConnectionsInTheOrderTheyStarted) {
  Collector c(options_, &sink_);
  for (uint8_t i = 1; i <= 20; ++i) {
    Conn k(V4(i, 50000), V4(200, 6379));
    c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", i));
  }
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(sink_.seen[i].client, "10.0.0." + std::to_string(i + 1) + ":50000");
  }
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

TEST_F(CollectorTest, ReplyCutByTheEndOfTheCaptureKeepsWhatArrived) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  c.OnSegment(k.FromClient("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 1));
  c.OnSegment(k.FromServer("$10\r\n0123", 2));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].reply, "0123");
  EXPECT_EQ(sink_.seen[0].no_reply, "");
  EXPECT_EQ(c.counters().cut_messages, 1u);
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

// Each hostile stream runs on its own connection, followed by a well-formed exchange on the
// same connection where that is still possible. Nothing may crash, every fault is counted,
// and no reply may land on a command it does not answer.
TEST_F(CollectorTest, HostileStreamsAreCountedAndNeverMisPaired) {
  Collector c(options_, &sink_);
  uint8_t host = 1;
  auto next = [&host]() { return Conn(V4(host++, 50000), V4(200, 6379)); };

  {  // Garbage on the port, from both sides: no command, no pairing.
    Conn k = next();
    Open(c, k, 0);
    c.OnSegment(k.FromClient(std::string("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 11), 1));
    c.OnSegment(k.FromServer(std::string("\x16\x03\x03\x00\x7a\x02\x00\x00", 8), 2));
  }
  {  // Absurd lengths: Redis rejects them with a protocol error; that error pairs with them.
    Conn k = next();
    Open(c, k, 0);
    c.OnSegment(k.FromClient("*1\r\n$999999999999\r\n", 3));
    c.OnSegment(k.FromServer("-ERR Protocol error: invalid bulk length\r\n", 4));
  }
  {  // A reply whose count is negative, then an 85-digit integer: out of step, counted.
    Conn k = next();
    Open(c, k, 0);
    c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", 5));
    c.OnSegment(k.FromServer("*-5\r\n:" + std::string(85, '9') + "\r\n", 6));
  }
  {  // Nesting 10,000 deep in a reply.
    Conn k = next();
    Open(c, k, 0);
    c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 7));
    std::string deep;
    for (int i = 0; i < 10000; ++i) deep += "*1\r\n";
    c.OnSegment(k.FromServer(deep + ":1\r\n", 8));
  }
  {  // The server speaks first, then a normal exchange.
    Conn k = next();
    c.OnSegment(k.FromServer("+OK\r\n", 9));
    c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 10));
    c.OnSegment(k.FromServer("+PONG\r\n", 11));
    c.OnSegment(k.FromClient("", 11));
  }
  {  // A capture cut in the middle of a request.
    Conn k = next();
    Open(c, k, 0);
    c.OnSegment(k.FromClient("*3\r\n$3\r\nSET\r\n$1\r\nk", 12));
  }
  c.Finish();

  const CollectorCounters& n = c.counters();
  ASSERT_EQ(sink_.seen.size(), 6u);
  // Absurd length: the malformed request takes Redis's protocol error.
  EXPECT_EQ(sink_.seen[0].cmd, "");
  EXPECT_EQ(sink_.seen[0].reply, "ERR Protocol error: invalid bulk length");
  // Negative count: both PINGs are reported out of step, neither paired.
  EXPECT_EQ(sink_.seen[1].no_reply, "desync");
  EXPECT_EQ(sink_.seen[2].no_reply, "desync");
  // Too deep: out of step.
  EXPECT_EQ(sink_.seen[3].no_reply, "desync");
  // Server first: its +OK is no reply; the PING gets its PONG.
  EXPECT_EQ(sink_.seen[4].reply, "PONG");
  // The cut SET is still reported, cut short, at the end of the capture.
  EXPECT_EQ(sink_.seen[5].cmd, "SET");
  EXPECT_EQ(sink_.seen[5].no_reply, "eof");
  // The absurd length; the client's garbage never ends its line, so it is no request yet.
  EXPECT_EQ(n.session.request_errors, 1u);
  // The garbage: the server's first byte starts no RESP value, so the connection is not
  // decoded at all, and counted.
  EXPECT_EQ(n.session.not_resp, 1u);
  // The negative count and then the 85-digit integer found by the resync.
  EXPECT_EQ(n.session.reply_errors, 2u);
  // The nesting, which fails every 129 levels (max depth 128) and resynchronises each time:
  // 77 times in 10,000.
  EXPECT_EQ(n.session.too_deep, 77u);
  // The server's first +OK, and the last nested value, complete but out of step.
  EXPECT_EQ(n.session.orphan_replies, 2u);
  // The SET, cut by the end of the capture.
  EXPECT_EQ(n.cut_messages, 1u);
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

// `s` as captured on interface `ifindex`, `after_ns` after its own capture time.
Segment On(Segment s, uint32_t ifindex, int64_t after_ns = 0) {
  s.ifindex = ifindex;
  s.ts_ns += after_ns;
  return s;
}

constexpr uint32_t kBridge = 2;
constexpr uint32_t kVeth = 3;

TEST_F(CollectorTest, CopiesFromASecondInterfaceAreDroppedAndCounted) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  // Client to container: the bridge first, then the veth; replies the other way round.
  const auto twice = [&c](const Segment& s, uint32_t first, uint32_t second) {
    c.OnSegment(On(s, first));
    c.OnSegment(On(s, second, 2'000));
  };
  twice(k.Syn(1'000'000), kBridge, kVeth);
  twice(k.SynAck(2'000'000), kVeth, kBridge);
  twice(k.FromClient("*1\r\n$4\r\nPING\r\n", 3'000'000), kBridge, kVeth);
  twice(k.FromServer("+PONG\r\n", 4'000'000), kVeth, kBridge);
  twice(k.FromClient("*1\r\n$4\r\nQUIT\r\n", 5'000'000), kBridge, kVeth);
  twice(k.FromServer("+OK\r\n", 6'000'000), kVeth, kBridge);
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(sink_.seen[1].cmd, "QUIT");
  EXPECT_EQ(sink_.seen[1].reply, "OK");
  const CollectorCounters& n = c.counters();
  EXPECT_EQ(n.second_interface_copies, 6u);
  EXPECT_EQ(n.segments, 12u);
  EXPECT_EQ(n.reassembly.segments, 4u);  // the segments with payload, each pushed once
  EXPECT_EQ(n.reassembly.retransmitted + n.reassembly.overlapping + n.reassembly.out_of_order,
            0u);
}

TEST_F(CollectorTest, RetransmissionOnTheSameInterfaceStaysARetransmission) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  c.OnSegment(On(k.Syn(0), kBridge));
  c.OnSegment(On(k.SynAck(0), kBridge));
  const Segment ping = k.FromClient("*1\r\n$4\r\nPING\r\n", 1'000'000);
  c.OnSegment(On(ping, kBridge));
  // Sooner than any timer would resend, as a fast retransmission on a LAN can be.
  c.OnSegment(On(ping, kBridge, 100'000));
  c.OnSegment(On(k.FromServer("+PONG\r\n", 2'000'000), kBridge));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(c.counters().reassembly.retransmitted, 1u);
  EXPECT_EQ(c.counters().second_interface_copies, 0u);
}

TEST_F(CollectorTest, RetransmissionSeenOnBothInterfacesIsOneRetransmissionAndOneCopy) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  const Segment ping = k.FromClient("*1\r\n$4\r\nPING\r\n", 1'000'000);
  c.OnSegment(On(ping, kBridge));
  c.OnSegment(On(ping, kVeth, 2'000));
  // Resent 100 us later, within the copies' window: the bridge sees it a second time.
  c.OnSegment(On(ping, kBridge, 100'000));
  c.OnSegment(On(ping, kVeth, 102'000));
  c.OnSegment(On(k.FromServer("+PONG\r\n", 2'000'000), kVeth));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(c.counters().reassembly.retransmitted, 1u);
  EXPECT_EQ(c.counters().second_interface_copies, 2u);
}

TEST_F(CollectorTest, CopiesAreRecognisedInWhicheverOrderTheyArrive) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  c.OnSegment(On(k.Syn(0), kVeth));
  c.OnSegment(On(k.SynAck(0), kBridge));
  const Segment first = k.FromClient("*2\r\n$3\r\nGET\r\n", 1'000'000);
  const Segment second = k.FromClient("$1\r\na\r\n", 1'000'100);
  const Segment reply = k.FromServer("$1\r\nx\r\n", 2'000'000);
  // Interleaved, each interface's copy of a segment coming first once.
  c.OnSegment(On(first, kBridge));
  c.OnSegment(On(second, kVeth, 1'000));
  c.OnSegment(On(second, kBridge));
  c.OnSegment(On(first, kVeth, 5'000));
  c.OnSegment(On(reply, kBridge, 3'000));
  c.OnSegment(On(reply, kVeth));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].cmd, "GET");
  EXPECT_EQ(sink_.seen[0].reply, "x");
  EXPECT_EQ(c.counters().second_interface_copies, 3u);
  EXPECT_EQ(c.counters().reassembly.retransmitted, 0u);
}

TEST_F(CollectorTest, UnknownInterfaceNeverMakesACopy) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  const Segment ping = k.FromClient("*1\r\n$4\r\nPING\r\n", 1'000'000);
  c.OnSegment(On(ping, 0));
  c.OnSegment(On(ping, 0, 1'000));
  c.OnSegment(On(ping, kVeth, 2'000));
  c.OnSegment(On(ping, 0, 3'000));
  c.OnSegment(On(k.FromServer("+PONG\r\n", 2'000'000), 0));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(c.counters().reassembly.retransmitted, 3u);
  EXPECT_EQ(c.counters().second_interface_copies, 0u);
}

TEST_F(CollectorTest, SameSegmentOnAnotherInterfaceAfterTheWindowIsARetransmission) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  const Segment ping = k.FromClient("*1\r\n$4\r\nPING\r\n", 1'000'000);
  c.OnSegment(On(ping, kBridge));
  c.OnSegment(On(ping, kVeth, CopyFilter::kWindowNs + 1));
  c.Finish();
  EXPECT_EQ(c.counters().reassembly.retransmitted, 1u);
  EXPECT_EQ(c.counters().second_interface_copies, 0u);
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

// A capture that starts inside a connection: no handshake, and streams that may start inside
// a value. Commands pair only once the connection is proven in step.
TEST_F(CollectorTest, JoinedMidStreamPairsWhatTheCountOfRepliesProves) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  // The tail of a value, then a pipeline; the server answers an earlier command the capture
  // never had, then the two.
  c.OnSegment(k.FromClient("ue\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n*1\r\n$4\r\nPING\r\n", 1));
  c.OnSegment(k.FromServer("$3\r\nold\r\n+OK\r\n+PONG\r\n", 2));
  EXPECT_TRUE(sink_.seen.empty());  // nothing shows yet that +OK is the SET's
  // The client sends the GET alone, having had every reply, which the server sent having had
  // every command; the GET gets one reply, and the client has it when the capture ends: the
  // client waited for its reply, so nothing sent before it is still waiting, and the last
  // three replies are the pipeline's and the GET's.
  c.OnSegment(k.FromClient("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 3));
  c.OnSegment(k.FromServer("$1\r\nv\r\n", 4));
  EXPECT_TRUE(sink_.seen.empty());  // one exchange proves nothing while more may come
  c.OnSegment(k.FromClient("", 5));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 3u);
  EXPECT_EQ(sink_.seen[0].cmd, "SET");
  EXPECT_EQ(sink_.seen[0].reply, "OK");
  EXPECT_EQ(sink_.seen[1].cmd, "PING");
  EXPECT_EQ(sink_.seen[1].reply, "PONG");
  EXPECT_EQ(sink_.seen[2].cmd, "GET");
  EXPECT_EQ(sink_.seen[2].reply, "v");
  const SessionCounters& n = c.counters().session;
  EXPECT_EQ(n.joined, 1u);
  EXPECT_EQ(n.realigned, 1u);
  EXPECT_EQ(n.orphan_replies, 1u);  // "old"
  EXPECT_EQ(n.resyncs, 0u);         // finding the first boundary is no error
}

TEST_F(CollectorTest, JoinedMidStreamPairsNothingUnproven) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 1));
  c.OnSegment(k.FromServer("+PONG\r\n", 2));
  // The capture ends before the client acknowledges the reply: an earlier command may have
  // been waiting for it.
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].cmd, "PING");
  EXPECT_EQ(sink_.seen[0].no_reply, "desync");
  EXPECT_EQ(c.counters().session.orphan_replies, 1u);
  EXPECT_EQ(c.counters().session.realigned, 0u);
}

TEST_F(CollectorTest, JoinedMidStreamTheClientsLastAcknowledgementProvesTheEnd) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 1));
  c.OnSegment(k.FromServer("+PONG\r\n", 2));
  c.OnSegment(k.FromClient("", 3));  // a bare ACK of the reply
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
}

TEST_F(CollectorTest, JoinedMidStreamSkipsWhatOnlyLooksLikeARequest) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  // Inside a value: a text line (an inline command, were it a request's start) and RESP of no
  // command the server has. The first request is the PING.
  c.OnSegment(k.FromClient("text\r\nGET x\r\n*2\r\n$3\r\nfoo\r\n$1\r\nx\r\n*1\r\n$4\r\nPING\r\n", 1));
  c.OnSegment(k.FromServer("+PONG\r\n", 2));
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 3));
  c.OnSegment(k.FromServer("+PONG\r\n", 4));
  c.OnSegment(k.FromClient("", 5));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[0].cmd, "PING");
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(sink_.seen[1].reply, "PONG");
  EXPECT_EQ(c.counters().session.join_skipped, 1u);
  EXPECT_EQ(c.counters().session.request_errors, 0u);
}

TEST_F(CollectorTest, JoinedMidStreamWaitsOutABlockedCommand) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n*3\r\n$5\r\nBLPOP\r\n$1\r\nq\r\n$1\r\n0\r\n", 1));
  c.OnSegment(k.FromServer("+PONG\r\n", 2));
  // Sent having had every reply, but the BLPOP is still blocked: fewer replies than commands
  // waiting, so no proof, and the BLPOP's reply must not go to this PING.
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 3));
  c.OnSegment(k.FromServer("*2\r\n$1\r\nq\r\n$1\r\nx\r\n", 4));
  c.OnSegment(k.FromServer("+PONG\r\n", 5));
  // Two replies after a PING sent alone: it was not answered alone, and proves nothing.
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 6));
  c.OnSegment(k.FromServer("+PONG\r\n", 7));
  EXPECT_TRUE(sink_.seen.empty());
  c.OnSegment(k.FromClient("", 8));  // this PING was: the proof at the end
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 4u);
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(sink_.seen[1].cmd, "BLPOP");
  EXPECT_EQ(sink_.seen[1].no_reply, "");
  EXPECT_EQ(sink_.seen[2].cmd, "PING");
  EXPECT_EQ(sink_.seen[2].reply, "PONG");
  EXPECT_EQ(sink_.seen[3].reply, "PONG");
}

class JoinedMidStreamTest : public CollectorTest, public ::testing::WithParamInterface<bool> {};

// With values kept (text, JSON) or not (-o none): the same records, the same counts.
TEST_P(JoinedMidStreamTest, MessagesAndMonitorLinesArePushes) {
  options_.session.message.keep_values = GetParam();
  Collector c(options_, &sink_);
  Conn sub(V4(1, 50000), V4(2, 6379));
  Conn mon(V4(3, 50000), V4(2, 6379));
  // A subscriber (RESP2) and a monitor, both joined: what the server feeds them is a push.
  c.OnSegment(sub.FromServer("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n", 1));
  c.OnSegment(mon.FromServer("+1700000000.123456 [0 127.0.0.1:5555] \"GET\" \"k\"\r\n", 2));
  c.OnSegment(sub.FromClient("*1\r\n$4\r\nPING\r\n", 3));
  c.OnSegment(sub.FromServer("*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nho\r\n", 4));
  c.OnSegment(sub.FromServer("*2\r\n$4\r\npong\r\n$0\r\n\r\n", 5));
  c.OnSegment(sub.FromClient("", 6));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 4u);
  EXPECT_EQ(sink_.seen[0].cmd, "");  // pushes
  EXPECT_EQ(sink_.seen[1].cmd, "");
  EXPECT_EQ(sink_.seen[2].cmd, "");
  if (GetParam()) {
    EXPECT_EQ(sink_.seen[3].cmd, "PING");
  }
  EXPECT_EQ(sink_.seen[3].no_reply, "");  // its ["pong", ""]
  EXPECT_EQ(c.counters().session.pushes, 3u);
  EXPECT_EQ(c.counters().session.orphan_replies, 0u);
}

INSTANTIATE_TEST_SUITE_P(ValuesKeptOrNot, JoinedMidStreamTest, ::testing::Bool());

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

// Reply segments captured out of order: bytes delivered late, behind an earlier segment, were
// sent by the server with its later acknowledgement, not with the earlier segment's. Joined
// mid-stream, where each reply's acknowledgement is checked against its command.
TEST_F(CollectorTest, RepliesCapturedOutOfOrderKeepTheirCommands) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  // Two exchanges, each request answered alone, prove the connection in step at the SET.
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 1));
  c.OnSegment(k.FromServer("+PONG\r\n", 1));
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 2));
  c.OnSegment(k.FromServer("+PONG\r\n", 2));
  // A client writing without reading: its requests acknowledge no reply after the PONG.
  const Segment set = k.FromClient("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nA\r\n", 3);
  const Segment ok = k.FromServer("+OK\r\n", 4);
  Segment get = k.FromClient("*2\r\n$3\r\nGET\r\n$1\r\na\r\n", 5);
  const Segment value = k.FromServer("$1\r\nA\r\n", 6);
  Segment ping = k.FromClient("*1\r\n$4\r\nPING\r\n", 7);
  const Segment pong = k.FromServer("+PONG\r\n", 8);
  get.ack = ping.ack = set.ack;
  c.OnSegment(set);  // proves the connection in step
  c.OnSegment(get);
  c.OnSegment(ping);
  c.OnSegment(value);  // acknowledging the GET, before the +OK that acknowledged the SET
  c.OnSegment(ok);
  c.OnSegment(pong);
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 5u);
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(sink_.seen[1].reply, "PONG");
  EXPECT_EQ(sink_.seen[2].reply, "OK");
  EXPECT_EQ(sink_.seen[3].reply, "A");
  EXPECT_EQ(sink_.seen[4].reply, "PONG");
  EXPECT_EQ(c.counters().session.orphan_replies, 0u);
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

// After a gap, the reply parser starts again at the first line that may start a reply. Inside
// a value that can be a line of its own, whose array then takes the next reply as an element:
// the acknowledgements show that this "reply" began before the server had the command it
// would answer, and it answers nothing.
TEST_F(CollectorTest, AReplyBegunBeforeTheServerHadTheCommandIsNotItsReply) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  c.OnSegment(k.FromClient("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 2));
  k.LoseFromServer(7);  // "$10\r\nab": the value's header is lost
  c.OnSegment(k.FromServer("\r\n*2\r\n:1\r\n", 3));  // its last bytes read as "*2" and ":1"
  c.OnSegment(k.FromClient("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", 4));
  c.OnSegment(k.FromServer("+OK\r\n", 5));  // the SET's reply ends that array
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 6));
  c.OnSegment(k.FromServer("+PONG\r\n", 7));
  c.OnSegment(k.FromClient("", 8));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 3u);
  EXPECT_EQ(sink_.seen[0].cmd, "GET");
  EXPECT_EQ(sink_.seen[0].no_reply, "gap");
  EXPECT_EQ(sink_.seen[1].cmd, "SET");
  EXPECT_EQ(sink_.seen[1].no_reply, "desync");
  EXPECT_EQ(sink_.seen[2].cmd, "PING");
  EXPECT_EQ(sink_.seen[2].reply, "PONG");
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

// A client that writes requests without waiting for replies, one request lost: the commands
// after it wait to be proven in step, and the end of the connection proves them: the client
// closed first, so the server answered every command before closing, and the last replies
// are theirs, the lost request's before them. While the connection lasts (the capture ends
// with it open), the server may still owe them replies, and nothing is paired by counting.
TEST_F(CollectorTest, CommandsAfterLostRequestsPairOnceProvenInStep) {
  for (const bool closes : {true, false}) {
    SCOPED_TRACE(closes ? "the client closes first" : "the capture ends");
    sink_.seen.clear();
    sink_.gaps.clear();
    Collector c(options_, &sink_);
    Conn k(V4(1, 50000), V4(2, 6379));
    Open(c, k, 1);
    c.OnSegment(k.FromClient("*3\r\n$3\r\nSET\r\n$1\r\na\r\n$2\r\nva\r\n", 2));
    k.LoseFromClient(std::string("*2\r\n$3\r\nGET\r\n$1\r\na\r\n").size());
    c.OnSegment(k.FromClient("*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$2\r\nvb\r\n", 3));
    c.OnSegment(k.FromClient("*2\r\n$3\r\nGET\r\n$1\r\nb\r\n", 4));
    c.OnSegment(k.FromServer("+OK\r\n$2\r\nva\r\n+OK\r\n$2\r\nvb\r\n", 5));
    c.OnSegment(k.FromClient("", 6, closes ? tcp_flags::kFin : 0));
    if (closes) c.OnSegment(k.FromServer("", 7, tcp_flags::kFin));
    c.Finish();
    ASSERT_EQ(sink_.seen.size(), 3u);
    EXPECT_EQ(sink_.seen[0].reply, "OK");
    EXPECT_EQ(sink_.seen[1].cmd, "SET");
    EXPECT_EQ(sink_.seen[1].reply, closes ? "OK" : "");
    EXPECT_EQ(sink_.seen[2].cmd, "GET");
    EXPECT_EQ(sink_.seen[2].reply, closes ? "vb" : "");
    const SessionCounters& n = c.counters().session;
    EXPECT_EQ(n.orphan_replies, closes ? 1u : 3u);  // the lost GET's (and the two unproven)
    EXPECT_EQ(n.realigned, closes ? 1u : 0u);
    EXPECT_EQ(c.counters().reassembly.gap_bytes, 20u);
    ASSERT_EQ(sink_.gaps.size(), 1u);
    EXPECT_TRUE(sink_.gaps[0].in_requests);
    EXPECT_EQ(sink_.gaps[0].bytes, 20u);
  }
}

// Two requests lost from one pipeline: the replies are counted from the last, so only the
// commands after the second gap can be paired; the one between the gaps cannot.
TEST_F(CollectorTest, OnlyCommandsAfterTheLastLostRequestPairByCounting) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  const auto get = [](const char* key) {
    return std::string("*2\r\n$3\r\nGET\r\n$1\r\n") + key + "\r\n";
  };
  c.OnSegment(k.FromClient(get("a"), 2));
  k.LoseFromClient(get("x").size());
  c.OnSegment(k.FromClient(get("b"), 3));
  k.LoseFromClient(get("y").size());
  c.OnSegment(k.FromClient(get("c"), 4));
  c.OnSegment(k.FromServer("$1\r\nA\r\n$1\r\nX\r\n$1\r\nB\r\n$1\r\nY\r\n$1\r\nC\r\n", 5));
  c.OnSegment(k.FromClient("", 6, tcp_flags::kFin));
  c.OnSegment(k.FromServer("", 7, tcp_flags::kFin));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 3u);
  EXPECT_EQ(sink_.seen[0].reply, "A");
  EXPECT_EQ(sink_.seen[1].reply, "");  // B, or Y: unknown
  EXPECT_EQ(sink_.seen[1].no_reply, "desync");
  EXPECT_EQ(sink_.seen[2].reply, "C");
}

// Out of step, only the latest --max-unproven commands wait for a proof: the oldest past it is
// reported unmatched at once, and the proof (the client closing first) pairs the rest.
TEST_F(CollectorTest, OutOfStepOnlyTheLatestCommandsWaitForAProof) {
  options_.session.max_unproven = 2;
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  const auto get = [](const char* key) {
    return std::string("*2\r\n$3\r\nGET\r\n$1\r\n") + key + "\r\n";
  };
  k.LoseFromClient(get("x").size());
  c.OnSegment(k.FromClient(get("a") + get("b") + get("c") + get("d"), 2));
  c.OnSegment(k.FromServer("$1\r\nX\r\n$1\r\nA\r\n$1\r\nB\r\n$1\r\nC\r\n$1\r\nD\r\n", 3));
  c.OnSegment(k.FromClient("", 4, tcp_flags::kFin));
  c.OnSegment(k.FromServer("", 5, tcp_flags::kFin));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 4u);
  EXPECT_EQ(sink_.seen[0].no_reply, "desync");
  EXPECT_EQ(sink_.seen[1].no_reply, "desync");
  EXPECT_EQ(sink_.seen[2].reply, "C");
  EXPECT_EQ(sink_.seen[3].reply, "D");
  EXPECT_EQ(c.counters().session.unproven_overflows, 2u);
  EXPECT_EQ(c.counters().session.orphan_replies, 3u);  // X, A and B
}

// A client that pipelines while the server is behind (the CI failure of a live capture):
// the server's kernel acknowledges requests the server has not read yet (Redis reads 16 KiB
// at a time), so a request sent with every reply in, after the server acknowledged every
// request before it, can still have commands before it unanswered. Here the server answers
// the lost GET and the first SET after it, then the rest: at the GET sent alone, the two
// replies held (X's, b's) are as many as the two commands waiting, and pairing them by
// counting would give b the lost GET's reply and GET b the SET's.
TEST_F(CollectorTest, AServerBehindAPipelineIsNotTakenToHaveAnsweredIt) {
  for (const bool closes : {false, true}) {
    SCOPED_TRACE(closes ? "the client closes first" : "the capture ends");
    sink_.seen.clear();
    Collector c(options_, &sink_);
    Conn k(V4(1, 50000), V4(2, 6379));
    Open(c, k, 1);
    c.OnSegment(k.FromClient("*2\r\n$3\r\nGET\r\n$1\r\na\r\n", 2));
    k.LoseFromClient(std::string("*2\r\n$3\r\nGET\r\n$1\r\nx\r\n").size());
    c.OnSegment(k.FromClient(
        "*3\r\n$3\r\nSET\r\n$1\r\nb\r\n$1\r\nB\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n", 3));
    c.OnSegment(k.FromServer("$1\r\nA\r\n$1\r\nX\r\n+OK\r\n", 4));
    c.OnSegment(k.FromClient("*2\r\n$3\r\nGET\r\n$1\r\nd\r\n", 5));
    c.OnSegment(k.FromServer("$1\r\nB\r\n$1\r\nD\r\n", 6));
    c.OnSegment(k.FromClient("", 7, closes ? tcp_flags::kFin : 0));
    if (closes) c.OnSegment(k.FromServer("", 8, tcp_flags::kFin));
    c.Finish();
    ASSERT_EQ(sink_.seen.size(), 4u);
    EXPECT_EQ(sink_.seen[0].reply, "A");
    for (size_t i = 1; i < 4; ++i) {
      SCOPED_TRACE(sink_.seen[i].cmd);
      if (closes) {
        // The client closed first: the server answered everything, the last three are theirs.
        EXPECT_EQ(sink_.seen[i].reply, std::vector<std::string>({"OK", "B", "D"})[i - 1]);
      } else {
        EXPECT_EQ(sink_.seen[i].reply, "");
        EXPECT_EQ(sink_.seen[i].no_reply, "desync");
      }
    }
  }
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

// A capture can write segments out of the order they were sent (per-CPU buffers, two
// interfaces). A segment that acknowledges bytes the capture has not had waits for them:
// reordering alone changes nothing.
TEST_F(CollectorTest, ReplyCapturedBeforeItsRequestStillPairs) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  const Segment request = k.FromClient("*1\r\n$4\r\nPING\r\n", 2);
  const Segment reply = k.FromServer("+PONG\r\n", 3);
  c.OnSegment(reply);  // it acknowledges the request, which comes next
  c.OnSegment(request);
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(c.counters().reassembly.gaps, 0u);
  EXPECT_EQ(c.counters().session.orphan_replies, 0u);
}

TEST_F(CollectorTest, AcknowledgementCapturedBeforeTheBytesItAcknowledgesIsNoGap) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 2));
  const Segment reply = k.FromServer("+PONG\r\n", 3);
  const Segment next = k.FromClient("*1\r\n$4\r\nECHO\r\n", 4);  // acknowledges the reply
  c.OnSegment(next);
  c.OnSegment(reply);
  c.OnSegment(k.FromServer("-ERR wrong number of arguments\r\n", 5));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(sink_.seen[1].cmd, "ECHO");
  EXPECT_EQ(sink_.seen[1].reply, "ERR wrong number of arguments");
  EXPECT_EQ(c.counters().reassembly.gaps, 0u);
}

// A request captured two places late, after the server's acknowledgement of it and the next
// client segment, which acknowledges the reply: each goes once what it acknowledges is in.
TEST_F(CollectorTest, SegmentsWaitingForEachOtherGoInTheOrderTheirAcknowledgementsSay) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  const Segment first = k.FromClient("*1\r\n$4\r\nPING\r\n", 2);
  const Segment pong = k.FromServer("+PONG\r\n", 3);
  const Segment second = k.FromClient("*1\r\n$4\r\nPING\r\n", 4);
  c.OnSegment(pong);
  c.OnSegment(second);
  c.OnSegment(first);
  c.OnSegment(k.FromServer("+PONG\r\n", 5));
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(sink_.seen[1].reply, "PONG");
  EXPECT_EQ(c.counters().reassembly.gaps, 0u);
}

// What a held segment waits for is lost when a second passes, as capture time goes, even
// if its own connection stays silent: the gap comes then.
TEST_F(CollectorTest, BytesNotCapturedWithinASecondAreLost) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Conn other(V4(3, 50000), V4(2, 6379));
  Open(c, k, 1);
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 2));
  k.LoseFromServer(7);
  c.OnSegment(k.FromClient("", 3));  // acknowledges the lost +PONG
  EXPECT_TRUE(sink_.seen.empty());
  Open(c, other, 2'000'000'000);
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].no_reply, "gap");
  EXPECT_EQ(c.counters().reassembly.gap_bytes, 7u);
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

// A retransmission or a copy of a connection's segment that comes after it closed starts no
// connection joined mid-stream: no command and no reply of it are reported again.
TEST_F(CollectorTest, SegmentsOfAClosedConnectionComingLateStartNothing) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  const Segment request = k.FromClient("*1\r\n$4\r\nPING\r\n", 2);
  const Segment reply = k.FromServer("+PONG\r\n", 3);
  c.OnSegment(request);
  c.OnSegment(reply);
  c.OnSegment(k.FromClient("", 4, tcp_flags::kFin));
  c.OnSegment(k.FromServer("", 5, tcp_flags::kFin));
  EXPECT_EQ(c.active_connections(), 0u);
  // The client's last ACK, one past its FIN, comes after the close too: it starts nothing,
  // and leaves what comes after it late.
  c.OnSegment(k.FromClient("", 5));
  c.OnSegment(request);
  c.OnSegment(reply);
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(c.counters().flows, 1u);
  EXPECT_EQ(c.counters().session.orphan_replies, 0u);
  EXPECT_EQ(c.counters().reassembly.retransmitted, 2u);
  // The 4-tuple used again, with a handshake: a new connection.
  Conn again(V4(1, 50000), V4(2, 6379), 90000, 95000);
  Open(c, again, 6);
  c.OnSegment(again.FromClient("*1\r\n$4\r\nPING\r\n", 7));
  c.OnSegment(again.FromServer("+PONG\r\n", 8));
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[1].reply, "PONG");
  EXPECT_EQ(c.counters().flows, 2u);
}

// The 4-tuple of a closed connection used again, its handshake not captured: the new
// connection's segments start past where the old one's ended, so they are not taken for
// late copies. It is joined mid-stream like any connection whose handshake was missed.
TEST_F(CollectorTest, ANewConnectionOnAClosedFourTupleIsNotTakenForLate) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 2));
  c.OnSegment(k.FromServer("+PONG\r\n", 3));
  c.OnSegment(k.FromClient("", 4, tcp_flags::kFin));
  c.OnSegment(k.FromServer("", 5, tcp_flags::kFin));
  ASSERT_EQ(c.active_connections(), 0u);
  Conn again(V4(1, 50000), V4(2, 6379), 70'000'000, 80'000'000);
  c.OnSegment(again.FromClient("*2\r\n$4\r\nECHO\r\n$1\r\na\r\n", 6));
  c.OnSegment(again.FromServer("$1\r\na\r\n", 7));
  c.OnSegment(again.FromClient("*2\r\n$4\r\nECHO\r\n$1\r\nb\r\n", 8));
  c.OnSegment(again.FromServer("$1\r\nb\r\n", 9));
  EXPECT_EQ(c.active_connections(), 1u);
  c.Finish();
  EXPECT_EQ(c.counters().flows, 2u);
  EXPECT_EQ(c.counters().session.joined, 1u);
  EXPECT_EQ(c.counters().reassembly.retransmitted, 0u);
  ASSERT_EQ(sink_.seen.size(), 3u);
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(sink_.seen[1].cmd, "ECHO");
  EXPECT_EQ(sink_.seen[1].reply, "a");  // proven in step by the acknowledgements
  EXPECT_EQ(sink_.seen[2].cmd, "ECHO");
  EXPECT_EQ(sink_.seen[2].reply, "b");
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

// Segments held back wait on each other: the client's acknowledgement of a reply, captured
// before the reply, waits for it, and the reply waits for requests the capture lost. When
// the waiting must end, the reply goes first, what it waits for lost; giving up the
// acknowledgement first would report the captured reply as lost.
TEST_F(CollectorTest, GivingUpHeldSegmentsLosesOnlyBytesNoneOfThemCarries) {
  Collector c(options_, &sink_);
  Conn k(V4(1, 50000), V4(2, 6379));
  Open(c, k, 1);
  const std::string lost = "*2\r\n$3\r\nGET\r\n$1\r\na\r\n";
  c.OnSegment(k.FromClient("*1\r\n$4\r\nPING\r\n", 2));
  k.LoseFromClient(lost.size());
  const Segment reply = k.FromServer("+PONG\r\n$-1\r\n", 3);
  const Segment ack = k.FromClient("", 4);
  c.OnSegment(ack);    // captured before the reply it acknowledges: held back
  c.OnSegment(reply);  // waits for the lost GET: held back
  c.Finish();
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].cmd, "PING");
  EXPECT_EQ(sink_.seen[0].reply, "PONG");
  EXPECT_EQ(c.counters().reassembly.gap_bytes, lost.size());
  ASSERT_EQ(sink_.gaps.size(), 1u);
  EXPECT_TRUE(sink_.gaps[0].in_requests);
}

}  // namespace
}  // namespace resptrace

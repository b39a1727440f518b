// PcapWriter: what it writes must read back through CaptureReader exactly as it went in.
#include "resptrace/pcap_writer.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <pcap/pcap.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "resptrace/capture_reader.h"

namespace resptrace {
namespace {

using ::testing::HasSubstr;

// What a read-back segment holds, owning its payload.
struct Seen {
  int64_t ts_ns;
  FlowKey flow;
  uint32_t seq, ack;
  uint8_t flags;
  std::string payload;
  uint32_t payload_len;
  uint32_t wire_len;
  uint32_t ifindex;
  bool outgoing;
};

class PcapWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string templ = (std::filesystem::temp_directory_path() / "pcap-writer-XXXXXX").string();
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
    path_ = dir_ + "/out.pcap";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::vector<Seen> ReadBack(int* link_type = nullptr) {
    auto reader = CaptureReader::Open(path_);
    EXPECT_TRUE(reader.ok()) << reader.status();
    std::vector<Seen> out;
    if (!reader.ok()) return out;
    if (link_type != nullptr) *link_type = (*reader)->link_type();
    const absl::Status s = (*reader)->ReadAll([&](const Segment& g) {
      out.push_back({g.ts_ns, g.flow, g.seq, g.ack, g.flags, std::string(g.payload),
                     g.payload_len, g.wire_len, g.ifindex, g.outgoing});
    });
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_EQ((*reader)->counters().packets, out.size());
    return out;
  }

  std::string dir_;
  std::string path_;
};

Endpoint V4(uint8_t last, uint16_t port) {
  const uint8_t b[4] = {10, 0, 0, last};
  return Endpoint{IpAddress::V4(b), port};
}

Endpoint V6(uint8_t last, uint16_t port) {
  uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
  b[15] = last;
  return Endpoint{IpAddress::V6(b), port};
}

TEST_F(PcapWriterTest, SegmentsReadBackUnchangedOverIpv4AndIpv6) {
  const std::string set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n";
  Segment a;
  a.ts_ns = 1'700'000'000'123'456'789;
  a.flow = {V4(1, 50000), V4(2, 6379)};
  a.seq = 0xfffffff0;  // wraps within the segment
  a.ack = 77;
  a.flags = tcp_flags::kAck | tcp_flags::kPsh;
  a.payload = set;
  a.payload_len = static_cast<uint32_t>(set.size());
  Segment b;
  b.ts_ns = 1'700'000'000'223'456'789;
  b.flow = {V6(2, 6379), V6(1, 50000)};
  b.seq = 5;
  b.ack = 0xfffffff0 + a.payload_len;
  b.flags = tcp_flags::kAck | tcp_flags::kFin;
  b.payload = "+OK\r\n";
  b.payload_len = 5;
  Segment syn;
  syn.ts_ns = 1'700'000'001'000'000'000;
  syn.flow = {V4(1, 50001), V4(2, 6379)};
  syn.seq = 1000;
  syn.flags = tcp_flags::kSyn;
  {
    auto w = PcapWriter::ForSegments(path_);
    ASSERT_TRUE(w.ok()) << w.status();
    for (const Segment* s : {&a, &b, &syn}) (*w)->WriteSegment(*s);
    EXPECT_EQ((*w)->frames(), 3u);
    ASSERT_TRUE((*w)->Close().ok());
  }
  int link_type = -1;
  const std::vector<Seen> seen = ReadBack(&link_type);
  EXPECT_EQ(link_type, DLT_LINUX_SLL2);
  ASSERT_EQ(seen.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    const Segment& want = i == 0 ? a : i == 1 ? b : syn;
    SCOPED_TRACE(i);
    EXPECT_EQ(seen[i].ts_ns, want.ts_ns);
    EXPECT_EQ(seen[i].flow, want.flow);
    EXPECT_EQ(seen[i].seq, want.seq);
    EXPECT_EQ(seen[i].flags, want.flags);
    EXPECT_EQ(seen[i].payload, want.payload);
    EXPECT_EQ(seen[i].payload_len, want.payload_len);
  }
  EXPECT_EQ(seen[0].ack, 77u);
  EXPECT_EQ(seen[1].ack, b.ack);
  // Linux cooked v2 + IPv4 + TCP headers, Linux cooked v2 + IPv6 + TCP headers.
  EXPECT_EQ(seen[0].wire_len, 20u + 20 + 20 + set.size());
  EXPECT_EQ(seen[1].wire_len, 20u + 40 + 20 + 5);
}

TEST_F(PcapWriterTest, SegmentsKeepTheirInterfaceAndDirection) {
  Segment sent;
  sent.flow = {V4(1, 50000), V4(2, 6379)};
  sent.flags = tcp_flags::kAck;
  sent.payload = "PING\r\n";
  sent.payload_len = 6;
  sent.ifindex = 7;
  sent.outgoing = true;
  Segment received = sent;
  received.flow = {V4(2, 6379), V4(1, 50000)};
  received.ifindex = 0x01020304;
  received.outgoing = false;
  Segment unknown = received;
  unknown.ifindex = 0;
  {
    auto w = PcapWriter::ForSegments(path_);
    ASSERT_TRUE(w.ok()) << w.status();
    for (const Segment* s : {&sent, &received, &unknown}) (*w)->WriteSegment(*s);
    ASSERT_TRUE((*w)->Close().ok());
  }
  const std::vector<Seen> seen = ReadBack();
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0].ifindex, 7u);
  EXPECT_TRUE(seen[0].outgoing);
  EXPECT_EQ(seen[1].ifindex, 0x01020304u);
  EXPECT_FALSE(seen[1].outgoing);
  EXPECT_EQ(seen[2].ifindex, 0u);
}

TEST_F(PcapWriterTest, OversizedSegmentIsSplitKeepingSequenceAndFlags) {
  // 150,000 bytes: a GSO segment as eBPF sees it on lo, more than one IP packet holds.
  std::string payload(150'000, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>('a' + i % 26);
  Segment s;
  s.ts_ns = 42;
  s.flow = {V4(1, 50000), V4(2, 6379)};
  s.seq = 0xffff0000;
  s.flags = tcp_flags::kAck | tcp_flags::kPsh | tcp_flags::kFin;
  s.payload = payload;
  s.payload_len = static_cast<uint32_t>(payload.size());
  {
    auto w = PcapWriter::ForSegments(path_);
    ASSERT_TRUE(w.ok()) << w.status();
    (*w)->WriteSegment(s);
    ASSERT_TRUE((*w)->Close().ok());
  }
  const std::vector<Seen> seen = ReadBack();
  ASSERT_EQ(seen.size(), 3u);
  constexpr uint32_t kChunk = 65495;  // 65535 - IPv4 header - TCP header
  const uint32_t lens[] = {kChunk, kChunk, 150'000 - 2 * kChunk};
  const uint8_t flags[] = {tcp_flags::kAck, tcp_flags::kAck,
                           tcp_flags::kAck | tcp_flags::kPsh | tcp_flags::kFin};
  uint32_t offset = 0;
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(seen[i].seq, s.seq + offset);
    EXPECT_EQ(seen[i].flags, flags[i]);
    EXPECT_EQ(seen[i].payload_len, lens[i]);
    EXPECT_EQ(seen[i].payload, payload.substr(offset, lens[i]));
    EXPECT_EQ(seen[i].ts_ns, 42);
    offset += lens[i];
  }
}

TEST_F(PcapWriterTest, MissingBytesStayMissing) {
  // Captured 10 of 100 payload bytes: the frame says 100 on the wire, carries 10.
  const std::string have = "*1\r\n$4\r\nPI";
  Segment s;
  s.flow = {V4(1, 50000), V4(2, 6379)};
  s.seq = 1;
  s.flags = tcp_flags::kAck;
  s.payload = have;
  s.payload_len = 100;
  {
    auto w = PcapWriter::ForSegments(path_);
    ASSERT_TRUE(w.ok()) << w.status();
    (*w)->WriteSegment(s);
    ASSERT_TRUE((*w)->Close().ok());
  }
  const std::vector<Seen> seen = ReadBack();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].payload, have);
  EXPECT_EQ(seen[0].payload_len, 100u);
  EXPECT_EQ(seen[0].wire_len, 20u + 20 + 20 + 100);
}

TEST_F(PcapWriterTest, FramesAreWrittenAsGiven) {
  // A Linux cooked (SLL) frame, as `-i any` delivers them: written byte for byte.
  const std::string frame =
      std::string("\x00\x00\x03\x04\x00\x06\x00\x00\x00\x00\x00\x00\x00\x00\x08\x00", 16) +
      std::string("\x45\x00\x00\x2d\x00\x00\x40\x00\x40\x06\x00\x00\x7f\x00\x00\x01"
                  "\x7f\x00\x00\x01",
                  20) +
      std::string("\xc3\x50\x18\xeb\x00\x00\x00\x01\x00\x00\x00\x02\x50\x18\xff\xff"
                  "\x00\x00\x00\x00",
                  20) +
      "PING\r";
  {
    auto w = PcapWriter::ForFrames(path_, DLT_LINUX_SLL, 262144);
    ASSERT_TRUE(w.ok()) << w.status();
    (*w)->WriteFrame(1'000'000'000'000'000'007, frame, static_cast<uint32_t>(frame.size()) + 1);
    ASSERT_TRUE((*w)->Close().ok());
  }
  int link_type = -1;
  const std::vector<Seen> seen = ReadBack(&link_type);
  EXPECT_EQ(link_type, DLT_LINUX_SLL);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].ts_ns, 1'000'000'000'000'000'007);
  EXPECT_EQ(seen[0].flow.src.port, 50000);
  EXPECT_EQ(seen[0].flow.dst.port, 6379);
  EXPECT_EQ(seen[0].seq, 1u);
  EXPECT_EQ(seen[0].payload, "PING\r");
  EXPECT_EQ(seen[0].wire_len, frame.size() + 1);
}

TEST_F(PcapWriterTest, UnwritablePathNamesTheFile) {
  const std::string bad = dir_ + "/no/such/dir/out.pcap";
  auto w = PcapWriter::ForSegments(bad);
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(std::string(w.status().message()),
              HasSubstr("cannot write capture file " + bad + ": "));
}

TEST_F(PcapWriterTest, FullDiskIsReported) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  auto w = PcapWriter::ForSegments("/dev/full");
  ASSERT_TRUE(w.ok()) << w.status();
  Segment s;
  s.flow = {V4(1, 50000), V4(2, 6379)};
  s.payload = "x";
  s.payload_len = 1;
  (*w)->WriteSegment(s);
  const absl::Status closed = (*w)->Close();
  EXPECT_EQ(closed.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(std::string(closed.message()), HasSubstr("writing capture file /dev/full failed"));
}

}  // namespace
}  // namespace resptrace

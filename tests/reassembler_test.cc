#include "resptrace/reassembler.h"

#include <algorithm>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resptrace {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Records every delivery with the stream offset it lands at: "D<offset>:<bytes>" and
// "G<offset>:<length>".
class Recorder : public StreamConsumer {
 public:
  void OnData(std::string_view bytes, int64_t ts_ns, std::optional<uint32_t> ack) override {
    EXPECT_FALSE(bytes.empty());
    events.push_back("D" + std::to_string(offset) + ":" + std::string(bytes));
    data_ptrs.push_back(bytes.data());
    acks.push_back(ack);
    last_ts = ts_ns;
    offset += bytes.size();
  }
  void OnGap(uint64_t bytes, int64_t ts_ns) override {
    EXPECT_GT(bytes, 0u);
    events.push_back("G" + std::to_string(offset) + ":" + std::to_string(bytes));
    last_ts = ts_ns;
    offset += bytes;
  }
  std::vector<std::string> events;
  std::vector<const char*> data_ptrs;
  std::vector<std::optional<uint32_t>> acks;
  uint64_t offset = 0;
  int64_t last_ts = 0;
};

Segment Seg(uint32_t seq, std::string_view payload, uint8_t flags = tcp_flags::kAck,
            int64_t ts_ns = 0) {
  Segment s;
  s.ts_ns = ts_ns;
  s.seq = seq;
  s.flags = flags;
  s.payload = payload;
  s.payload_len = static_cast<uint32_t>(payload.size());
  return s;
}

// A segment of `wire_len` payload bytes of which the capture kept only `captured`.
Segment Cut(uint32_t seq, std::string_view captured, uint32_t wire_len) {
  Segment s = Seg(seq, captured);
  s.payload_len = wire_len;
  return s;
}

Segment Syn(uint32_t seq) { return Seg(seq, "", tcp_flags::kSyn); }

constexpr uint32_t kIsn = 1000;  // first data byte of streams opened by Syn(kIsn - 1)

class ReassemblerTest : public ::testing::Test {
 protected:
  // Opens the stream with a SYN so that offset 0 is sequence number kIsn.
  void Open() { r.Push(Syn(kIsn - 1), out); }
  void At(uint64_t offset, std::string_view payload) {
    r.Push(Seg(kIsn + static_cast<uint32_t>(offset), payload), out);
  }

  ReassemblyCounters c;
  Reassembler r{ReassemblerLimits{}, &c};
  Recorder out;
};

TEST_F(ReassemblerTest, InOrderDataIsDeliveredAtOnceAsAViewIntoThePayload) {
  Open();
  const std::string a = "hello", b = " world";
  r.Push(Seg(kIsn, a, tcp_flags::kAck, 11), out);
  r.Push(Seg(kIsn + 5, b, tcp_flags::kAck | tcp_flags::kPsh, 12), out);
  EXPECT_THAT(out.events, ElementsAre("D0:hello", "D5: world"));
  EXPECT_THAT(out.data_ptrs, ElementsAre(a.data(), b.data()));
  EXPECT_EQ(out.last_ts, 12);
  EXPECT_EQ(r.next_offset(), 11u);
  EXPECT_EQ(r.next_seq(), kIsn + 11);
  EXPECT_EQ(r.buffered_bytes(), 0u);
  EXPECT_EQ(c.segments, 2u);
  EXPECT_EQ(c.bytes_delivered, 11u);
  EXPECT_EQ(c.out_of_order + c.retransmitted + c.overlapping + c.overlap_bytes + c.gaps +
                c.gap_bytes + c.buffer_overflows,
            0u);
}

// Bytes held out of order keep the acknowledgement of the segment that carried them: what the
// sender had received when it sent them, not what the segment that filled the hole says.
TEST_F(ReassemblerTest, EachDeliveryCarriesItsOwnSegmentsAcknowledgement) {
  Open();
  Segment later = Seg(kIsn + 3, "def");
  later.ack = 70;
  Segment first = Seg(kIsn, "abc");
  first.ack = 90;  // a retransmission, sent after the client had more
  Segment bare = Seg(kIsn + 6, "g", tcp_flags::kPsh);  // no ACK flag
  r.Push(later, out);
  r.Push(first, out);
  r.Push(bare, out);
  EXPECT_THAT(out.events, ElementsAre("D0:abc", "D3:def", "D6:g"));
  EXPECT_THAT(out.acks, ElementsAre(std::optional<uint32_t>(90), std::optional<uint32_t>(70),
                                    std::nullopt));
}

TEST_F(ReassemblerTest, SynSetsTheIsnAndItsOwnDataStartsAfterIt) {
  EXPECT_FALSE(r.started());
  r.Push(Seg(99, "ab", tcp_flags::kSyn), out);
  EXPECT_TRUE(r.started());
  r.Push(Seg(102, "cd"), out);
  r.Push(Syn(99), out);  // a retransmitted SYN changes nothing
  r.Push(Seg(104, "e"), out);
  EXPECT_THAT(out.events, ElementsAre("D0:ab", "D2:cd", "D4:e"));
  EXPECT_EQ(r.next_seq(), 105u);
  EXPECT_EQ(c.segments, 3u);
  EXPECT_EQ(c.bytes_delivered, 5u);
}

TEST_F(ReassemblerTest, WithoutSynTheFirstPayloadStartsTheStream) {
  r.Push(Seg(500, ""), out);                                  // pure ACK
  r.Push(Seg(600, "", tcp_flags::kFin | tcp_flags::kAck), out);  // FIN alone
  EXPECT_FALSE(r.started());
  r.Push(Seg(7000, "xyz"), out);
  EXPECT_TRUE(r.started());
  r.Push(Seg(6990, "0123456789"), out);  // sent before the join: already passed
  r.Push(Seg(7003, ""), out);            // pure ACK in sequence
  r.Push(Seg(7003, "!"), out);
  EXPECT_THAT(out.events, ElementsAre("D0:xyz", "D3:!"));
  EXPECT_EQ(c.segments, 3u);
  EXPECT_EQ(c.retransmitted, 1u);
  EXPECT_EQ(c.overlap_bytes, 10u);
  EXPECT_EQ(c.bytes_delivered, 4u);
}

TEST_F(ReassemblerTest, SegmentsWithoutPayloadDeliverNothing) {
  Open();
  At(0, "abc");
  r.Push(Seg(kIsn + 3, ""), out);
  r.Push(Seg(kIsn + 3, "", tcp_flags::kFin | tcp_flags::kAck), out);
  r.Push(Seg(kIsn + 50, ""), out);  // an empty segment far ahead opens no hole
  At(3, "d");
  EXPECT_THAT(out.events, ElementsAre("D0:abc", "D3:d"));
  EXPECT_EQ(c.segments, 2u);
  EXPECT_EQ(c.out_of_order, 0u);
}

TEST_F(ReassemblerTest, OutOfOrderIsBufferedAndDeliveredInOrder) {
  Open();
  At(3, "def");
  EXPECT_THAT(out.events, IsEmpty());
  EXPECT_EQ(r.buffered_bytes(), 3u);
  At(0, "abc");
  At(6, "ghi");
  EXPECT_THAT(out.events, ElementsAre("D0:abc", "D3:def", "D6:ghi"));
  EXPECT_EQ(r.buffered_bytes(), 0u);
  EXPECT_EQ(c.segments, 3u);
  EXPECT_EQ(c.out_of_order, 1u);
  EXPECT_EQ(c.bytes_delivered, 9u);
  EXPECT_EQ(c.retransmitted + c.overlapping + c.gaps, 0u);
}

TEST_F(ReassemblerTest, DuplicatesAreDroppedAndCounted) {
  Open();
  At(0, "abc");
  At(0, "abc");  // retransmission of delivered bytes
  At(6, "ghi");
  At(6, "ghi");  // duplicate of buffered bytes
  At(3, "def");
  EXPECT_THAT(out.events, ElementsAre("D0:abc", "D3:def", "D6:ghi"));
  EXPECT_EQ(c.segments, 5u);
  EXPECT_EQ(c.out_of_order, 2u);
  EXPECT_EQ(c.retransmitted, 2u);
  EXPECT_EQ(c.overlapping, 0u);
  EXPECT_EQ(c.overlap_bytes, 6u);
  EXPECT_EQ(c.bytes_delivered, 9u);
}

TEST_F(ReassemblerTest, PartialOverlapsDeliverOnlyNewBytes) {
  Open();
  At(0, "0123456789");
  At(5, "56789abcde");  // starts among delivered bytes
  EXPECT_THAT(out.events, ElementsAre("D0:0123456789", "D10:abcde"));
  EXPECT_EQ(c.overlapping, 1u);
  EXPECT_EQ(c.overlap_bytes, 5u);

  At(20, "klmnopqrst");  // buffered 20..30
  At(25, "pqrstuvwxy");  // right side overlaps the buffered run: only 30..35 is new
  At(17, "hijkl");       // left side overlaps it: only 17..20 is new
  EXPECT_EQ(r.buffered_bytes(), 18u);
  At(15, "fghijk");      // in order, its tail overlaps the buffered 17..20
  EXPECT_THAT(out.events, ElementsAre("D0:0123456789", "D10:abcde", "D15:fg", "D17:hij",
                                      "D20:klmnopqrst", "D30:uvwxy"));
  EXPECT_EQ(r.buffered_bytes(), 0u);
  EXPECT_EQ(c.segments, 6u);
  EXPECT_EQ(c.out_of_order, 3u);
  EXPECT_EQ(c.overlapping, 4u);
  EXPECT_EQ(c.overlap_bytes, 5u + 5u + 2u + 4u);
  EXPECT_EQ(c.retransmitted, 0u);
  EXPECT_EQ(c.bytes_delivered, 35u);
}

TEST_F(ReassemblerTest, RetransmissionOverBufferedBytesKeepsTheFirstArrival) {
  Open();
  At(4, "BBBB");
  At(10, "CC");
  At(0, "aaaaXXXXyyZZw");  // in order, differs where 4..8 and 10..12 were buffered
  EXPECT_THAT(out.events, ElementsAre("D0:aaaa", "D4:BBBB", "D8:yy", "D10:CC", "D12:w"));
  At(6, "QQQQQQQQ");  // differs from delivered bytes and ends with one new byte
  EXPECT_EQ(out.events.back(), "D13:Q");
  EXPECT_EQ(c.overlapping, 2u);
  EXPECT_EQ(c.overlap_bytes, 6u + 7u);
  EXPECT_EQ(c.bytes_delivered, 14u);
}

TEST_F(ReassemblerTest, OutOfOrderRetransmissionFillsOnlyHolesBetweenBufferedRuns) {
  Open();
  At(4, "bb");
  At(8, "dd");
  At(2, "pqZZrsZZt");  // covers 2..11: fills 2..4, 6..8, 10..11
  EXPECT_EQ(r.buffered_bytes(), 9u);
  At(0, "aa");
  EXPECT_THAT(out.events, ElementsAre("D0:aa", "D2:pq", "D4:bb", "D6:rs", "D8:dd", "D10:t"));
  EXPECT_EQ(c.overlap_bytes, 4u);
  EXPECT_EQ(c.overlapping, 1u);
}

TEST_F(ReassemblerTest, SequenceNumbersWrapAroundTwoToThe32) {
  r.Push(Syn(0xFFFFFEFFu), out);  // ISN 0xFFFFFF00: offset 256 is sequence number 0
  std::string chunk[5];
  for (int i = 0; i < 5; ++i) chunk[i] = std::string(100, static_cast<char>('a' + i));
  auto seq = [](uint64_t offset) { return static_cast<uint32_t>(0xFFFFFF00u + offset); };
  r.Push(Seg(seq(0), chunk[0]), out);
  r.Push(Seg(seq(300), chunk[3]), out);  // past the wrap, ahead of a hole
  r.Push(Seg(seq(200), chunk[2]), out);  // sequence number 0x000000C8
  r.Push(Seg(seq(100), chunk[1]), out);  // crosses 2^32: 0xFFFFFF64..0x000000C8
  r.Push(Seg(seq(150), chunk[1].substr(50) + chunk[2].substr(0, 50)), out);  // retransmission
  r.Push(Seg(seq(400), chunk[4]), out);
  EXPECT_THAT(out.events, ElementsAre("D0:" + chunk[0], "D100:" + chunk[1], "D200:" + chunk[2],
                                      "D300:" + chunk[3], "D400:" + chunk[4]));
  EXPECT_EQ(r.next_offset(), 500u);
  EXPECT_EQ(r.next_seq(), 0xF4u);
  EXPECT_EQ(c.out_of_order, 2u);
  EXPECT_EQ(c.retransmitted, 1u);
  EXPECT_EQ(c.gaps, 0u);
}

// Counts instead of recording: for streams longer than 4 GiB.
class Counter : public StreamConsumer {
 public:
  void OnData(std::string_view bytes, int64_t, std::optional<uint32_t>) override {
    if (!bytes.empty() && bytes.front() != 'x') last_marker = bytes;
    offset += bytes.size();
  }
  void OnGap(uint64_t bytes, int64_t) override {
    ++gaps;
    offset += bytes;
  }
  uint64_t offset = 0;
  uint64_t gaps = 0;
  std::string last_marker;
};

TEST(ReassemblerLongStreamTest, OffsetsKeepGrowingPastFourGibibytes) {
  ReassemblyCounters c;
  Reassembler r(ReassemblerLimits{}, &c);
  Counter out;
  const uint32_t isn = 0x7FFFFFF0u;
  r.Push(Syn(isn - 1), out);
  const std::string block(65535, 'x');
  const uint64_t blocks = (uint64_t{1} << 32) / block.size() + 2;  // past 2^32 bytes
  for (uint64_t i = 0; i < blocks; ++i) r.Push(Seg(r.next_seq(), block), out);
  const uint64_t end = blocks * block.size();
  ASSERT_GT(end, uint64_t{1} << 32);
  EXPECT_EQ(r.next_offset(), end);
  EXPECT_EQ(r.next_seq(), static_cast<uint32_t>(isn + end));
  // Reordering and retransmission still resolve against the current position.
  const uint32_t seq = r.next_seq();
  r.Push(Seg(seq + 3, "DEF"), out);
  r.Push(Seg(seq - 10, std::string(10, 'x')), out);
  r.Push(Seg(seq, "ABC"), out);
  EXPECT_EQ(out.offset, end + 6);
  EXPECT_EQ(out.last_marker, "DEF");
  EXPECT_EQ(c.bytes_delivered, end + 6);
  EXPECT_EQ(c.retransmitted, 1u);
  EXPECT_EQ(c.out_of_order, 1u);
  EXPECT_EQ(c.gaps, 0u);
}

TEST_F(ReassemblerTest, SnaplenCutSegmentGivesItsBytesThenAGap) {
  Open();
  r.Push(Cut(kIsn, "abcd", 10), out);
  At(10, "klmno");
  At(0, "abcdefghij");  // the full bytes, too late: already declared missing
  EXPECT_THAT(out.events, ElementsAre("D0:abcd", "G4:6", "D10:klmno"));
  EXPECT_EQ(c.gaps, 1u);
  EXPECT_EQ(c.gap_bytes, 6u);
  EXPECT_EQ(c.retransmitted, 1u);
  EXPECT_EQ(c.bytes_delivered, 9u);
  EXPECT_EQ(c.segments, 3u);
}

TEST_F(ReassemblerTest, SnaplenCutSegmentWithNothingCapturedIsOneGap) {
  Open();
  r.Push(Cut(kIsn, "", 7), out);
  At(7, "h");
  EXPECT_THAT(out.events, ElementsAre("G0:7", "D7:h"));
  EXPECT_EQ(c.segments, 2u);
}

TEST_F(ReassemblerTest, MissingBytesAheadOfAHoleAreFilledByALaterFullCopy) {
  Open();
  r.Push(Cut(kIsn + 10, "klm", 10), out);  // 13..20 missing, behind the hole 0..10
  EXPECT_EQ(r.buffered_bytes(), 3u);
  At(10, "klmnopqrst");  // the full retransmission fills them
  EXPECT_EQ(r.buffered_bytes(), 10u);
  At(0, "abcdefghij");
  EXPECT_THAT(out.events, ElementsAre("D0:abcdefghij", "D10:klm", "D13:nopqrst"));
  EXPECT_EQ(c.gaps, 0u);
  EXPECT_EQ(c.overlapping, 1u);
  EXPECT_EQ(c.overlap_bytes, 3u);
  EXPECT_EQ(c.out_of_order, 2u);
}

TEST_F(ReassemblerTest, MissingBytesAheadOfAHoleBecomeAGapWhenTheirTurnComes) {
  Open();
  r.Push(Cut(kIsn + 10, "klm", 10), out);
  r.Push(Cut(kIsn + 10, "k", 10), out);  // a shorter copy adds nothing
  EXPECT_EQ(c.retransmitted, 1u);
  At(0, "abcdefghij");
  At(10, "klmnopqrst");  // too late
  EXPECT_THAT(out.events, ElementsAre("D0:abcdefghij", "D10:klm", "G13:7"));
  EXPECT_EQ(c.gaps, 1u);
  EXPECT_EQ(c.gap_bytes, 7u);
  EXPECT_EQ(c.retransmitted, 2u);
}

TEST_F(ReassemblerTest, RealBytesFillTheMiddleOfMissingBytes) {
  Open();
  r.Push(Cut(kIsn + 10, "", 10), out);  // 10..20 missing
  At(13, "nop");                         // real bytes in the middle
  At(0, "abcdefghij");
  EXPECT_THAT(out.events, ElementsAre("D0:abcdefghij", "G10:3", "D13:nop", "G16:4"));
  EXPECT_EQ(c.overlap_bytes, 0u);
}

TEST_F(ReassemblerTest, CutSegmentInOrderKeepsBufferedBytesInsideItsMissingPart) {
  Open();
  At(6, "XY");
  r.Push(Cut(kIsn, "abcd", 10), out);
  EXPECT_THAT(out.events, ElementsAre("D0:abcd", "G4:2", "D6:XY", "G8:2"));
  EXPECT_EQ(c.overlapping, 1u);
  EXPECT_EQ(c.overlap_bytes, 2u);
  EXPECT_EQ(c.gaps, 2u);
  EXPECT_EQ(c.gap_bytes, 4u);
}

TEST_F(ReassemblerTest, PeerAckDeclaresTheHolesItCoversAsGaps) {
  r.OnPeerAck(5000, 1, out);  // not started: nothing to do
  Open();
  At(0, "0123456789");
  At(20, "klmnopqrst");
  At(40, "KLMNO");
  At(60, "z");
  r.OnPeerAck(kIsn + 10, 2, out);  // nothing missing below the ack
  r.OnPeerAck(kIsn + 5, 2, out);   // an old ack
  EXPECT_EQ(out.events.size(), 1u);
  r.OnPeerAck(kIsn + 42, 3, out);  // covers two holes: 10..20 and 30..40
  EXPECT_THAT(out.events, ElementsAre("D0:0123456789", "G10:10", "D20:klmnopqrst", "G30:10",
                                      "D40:KLMNO"));
  EXPECT_EQ(out.last_ts, 0);
  EXPECT_EQ(r.next_offset(), 45u);
  r.OnPeerAck(kIsn + 55, 4, out);  // a hole with nothing buffered behind up to the ack
  EXPECT_EQ(out.events.back(), "G45:10");
  EXPECT_EQ(out.last_ts, 4);
  EXPECT_EQ(r.next_offset(), 55u);
  EXPECT_EQ(r.buffered_bytes(), 1u);
  EXPECT_EQ(c.gaps, 3u);
  EXPECT_EQ(c.gap_bytes, 30u);
  At(50, "late");  // lost to the capture, then retransmitted: already declared missing
  EXPECT_EQ(c.retransmitted, 1u);
}

TEST_F(ReassemblerTest, PeerAckFarAheadIsIgnored) {
  Open();
  At(0, "abc");
  r.OnPeerAck(kIsn + 3 + (1u << 30), 1, out);
  r.OnPeerAck(kIsn + 3 + 0x80000000u, 1, out);
  r.OnPeerAck(kIsn - 100, 1, out);
  EXPECT_THAT(out.events, ElementsAre("D0:abc"));
  EXPECT_EQ(c.gaps, 0u);
  r.OnPeerAck(kIsn + 3 + (1u << 30) - 1, 1, out);  // just inside the window
  EXPECT_EQ(out.events.back(), "G3:1073741823");
}

TEST_F(ReassemblerTest, PeerAckOfTheFinIsNoGap) {
  Open();
  r.Push(Seg(kIsn, "bye", tcp_flags::kFin | tcp_flags::kAck), out);
  r.OnPeerAck(kIsn + 4, 1, out);  // acknowledges the 3 bytes and the FIN
  EXPECT_THAT(out.events, ElementsAre("D0:bye"));
  EXPECT_EQ(c.gaps, 0u);
}

TEST_F(ReassemblerTest, PeerAckBeyondALostFinStopsAtTheFin) {
  Open();
  At(0, "ab");
  r.Push(Seg(kIsn + 5, "", tcp_flags::kFin | tcp_flags::kAck), out);  // FIN after 3 lost bytes
  r.OnPeerAck(kIsn + 6, 1, out);
  EXPECT_THAT(out.events, ElementsAre("D0:ab", "G2:3"));
}

TEST_F(ReassemblerTest, LacksWhatThePeerAcknowledgedAndTheCaptureHasNot) {
  EXPECT_FALSE(r.Lacks(kIsn + 10));  // not started: nothing is known of the stream
  Open();
  At(0, "ab");
  EXPECT_FALSE(r.Lacks(kIsn + 2));
  EXPECT_TRUE(r.Lacks(kIsn + 3));
  At(3, "d");  // out of order: byte 2 is still missing
  EXPECT_TRUE(r.Lacks(kIsn + 4));
  At(2, "c");
  EXPECT_FALSE(r.Lacks(kIsn + 4));
  r.Push(Seg(kIsn + 4, "", tcp_flags::kFin | tcp_flags::kAck), out);
  EXPECT_FALSE(r.Lacks(kIsn + 5));  // the FIN takes a sequence number, no byte
  EXPECT_FALSE(r.Lacks(kIsn + (1u << 31)));  // no acknowledgement of this stream
}

TEST(ReassemblerLimitsTest, ExceedingTheByteLimitClosesTheEarliestHole) {
  ReassemblyCounters c;
  Reassembler r(ReassemblerLimits{.max_buffered_bytes = 10, .max_buffered_segments = 100}, &c);
  Recorder out;
  r.Push(Syn(kIsn - 1), out);
  r.Push(Seg(kIsn + 10, "aaaa"), out);
  r.Push(Seg(kIsn + 20, "bbbb"), out);
  EXPECT_EQ(r.buffered_bytes(), 8u);
  r.Push(Seg(kIsn + 30, "cccc"), out);  // 12 bytes would be held
  EXPECT_THAT(out.events, ElementsAre("G0:10", "D10:aaaa"));
  EXPECT_EQ(r.buffered_bytes(), 8u);
  EXPECT_EQ(c.buffer_overflows, 1u);
  r.Push(Seg(kIsn + 40, std::string(25, 'd')), out);  // alone larger than the limit
  EXPECT_THAT(out.events, ElementsAre("G0:10", "D10:aaaa", "G14:6", "D20:bbbb", "G24:6",
                                      "D30:cccc", "G34:6", "D40:" + std::string(25, 'd')));
  EXPECT_EQ(r.buffered_bytes(), 0u);
  EXPECT_EQ(c.buffer_overflows, 4u);
  EXPECT_EQ(c.gaps, 4u);
  EXPECT_EQ(c.gap_bytes, 28u);
  EXPECT_EQ(r.next_offset(), 65u);
}

TEST(ReassemblerLimitsTest, ExceedingTheSegmentLimitClosesTheEarliestHole) {
  ReassemblyCounters c;
  Reassembler r(ReassemblerLimits{.max_buffered_bytes = 1000, .max_buffered_segments = 2}, &c);
  Recorder out;
  r.Push(Syn(kIsn - 1), out);
  r.Push(Seg(kIsn + 10, "a"), out);
  r.Push(Seg(kIsn + 20, "b"), out);
  r.Push(Seg(kIsn + 5, "c"), out);  // now the earliest buffered data
  EXPECT_THAT(out.events, ElementsAre("G0:5", "D5:c"));
  EXPECT_EQ(c.buffer_overflows, 1u);
  r.Push(Cut(kIsn + 30, "", 5), out);  // missing-byte runs count as segments too
  EXPECT_THAT(out.events, ElementsAre("G0:5", "D5:c", "G6:4", "D10:a"));
  EXPECT_EQ(c.buffer_overflows, 2u);
}

TEST(ReassemblerLimitsTest, RandomOutOfOrderTrafficNeverExceedsTheLimits) {
  const ReassemblerLimits limits{.max_buffered_bytes = 5000, .max_buffered_segments = 8};
  ReassemblyCounters c;
  Reassembler r(limits, &c);
  Counter out;
  r.Push(Syn(0), out);
  std::mt19937 rng(7);
  const std::string payload(1460, 'x');
  uint64_t max_buffered = 0;
  for (int i = 0; i < 20000; ++i) {
    const uint32_t ahead = static_cast<uint32_t>(rng() % 100000);
    const uint32_t len = 1 + static_cast<uint32_t>(rng() % payload.size());
    r.Push(Seg(r.next_seq() + ahead, std::string_view(payload).substr(0, len)), out);
    max_buffered = std::max(max_buffered, r.buffered_bytes());
    ASSERT_LE(r.buffered_bytes(), limits.max_buffered_bytes);
  }
  EXPECT_GT(max_buffered, limits.max_buffered_bytes - 1460);
  EXPECT_GT(c.buffer_overflows, 0u);
  EXPECT_EQ(c.gaps, out.gaps);
  r.Flush(0, out);
  EXPECT_EQ(out.offset, r.next_offset());
  EXPECT_EQ(c.bytes_delivered + c.gap_bytes, r.next_offset());
}

// An owner bounding what is held gives up holes one at a time, the oldest first; what is held
// counts the bytes and their runs' bookkeeping, and nothing once no run is left.
TEST_F(ReassemblerTest, ShedOldestHoleGivesUpOneHoleAndTheMemoryHeld) {
  Open();
  EXPECT_EQ(r.held_bytes(), 0u);
  At(10, "aaaa");
  At(20, "bbbb");
  EXPECT_EQ(r.buffered_bytes(), 8u);
  EXPECT_GT(r.held_bytes(), 8u);
  r.ShedOldestHole(5, out);
  EXPECT_THAT(out.events, ElementsAre("G0:10", "D10:aaaa"));
  EXPECT_EQ(r.buffered_bytes(), 4u);
  r.ShedOldestHole(6, out);
  EXPECT_THAT(out.events, ElementsAre("G0:10", "D10:aaaa", "G14:6", "D20:bbbb"));
  EXPECT_EQ(r.held_bytes(), 0u);
  r.ShedOldestHole(7, out);  // nothing held: nothing happens
  EXPECT_EQ(out.events.size(), 4u);
  EXPECT_EQ(c.buffer_overflows, 0u);  // the owner counts these
  // Filling a hole empties it too.
  At(30, "c");
  EXPECT_GT(r.held_bytes(), 0u);
  At(24, "dddddd");
  EXPECT_EQ(r.held_bytes(), 0u);
  // So do real bytes replacing missing ones.
  r.Push(Cut(kIsn + 40, "", 5), out);
  EXPECT_GT(r.held_bytes(), 0u);
  At(31, "eeeeeeeee");
  At(40, "fffff");
  EXPECT_EQ(r.held_bytes(), 0u);
  EXPECT_EQ(r.next_offset(), 45u);
}

TEST_F(ReassemblerTest, FlushTurnsEveryHoleIntoAGapInOrder) {
  Open();
  At(0, "ab");
  At(5, "fg");
  r.Push(Cut(kIsn + 10, "kl", 5), out);
  At(20, "uv");
  EXPECT_EQ(r.buffered_bytes(), 6u);
  r.Flush(9, out);
  EXPECT_THAT(out.events, ElementsAre("D0:ab", "G2:3", "D5:fg", "G7:3", "D10:kl", "G12:3",
                                      "G15:5", "D20:uv"));
  EXPECT_EQ(r.buffered_bytes(), 0u);
  EXPECT_EQ(c.gaps, 4u);
  EXPECT_EQ(c.gap_bytes, 14u);
  EXPECT_EQ(c.bytes_delivered, 8u);
  r.Flush(10, out);  // nothing left
  EXPECT_EQ(out.events.size(), 8u);
  At(22, "w");  // the stream goes on after a flush
  At(24, "y");
  At(23, "x");
  EXPECT_EQ(out.events.back(), "D24:y");
  EXPECT_EQ(r.next_offset(), 25u);
}

// Segments cut from a random stream: each covers [offset, offset + size) of it.
struct Piece {
  uint64_t offset;
  uint64_t size;
  uint64_t captured;
};

struct Replay {
  std::string delivered;  // the stream as delivered, gaps as '\0'
  std::vector<bool> gap;  // per offset: delivered as missing
  uint64_t gaps = 0;
};

// Checks what the consumer sees against the stream it was cut from, byte by byte.
class Checker : public StreamConsumer {
 public:
  explicit Checker(Replay* replay) : replay_(replay) {}
  void OnData(std::string_view bytes, int64_t, std::optional<uint32_t>) override {
    replay_->delivered.append(bytes);
    replay_->gap.resize(replay_->delivered.size(), false);
  }
  void OnGap(uint64_t bytes, int64_t) override {
    ++replay_->gaps;
    replay_->delivered.append(bytes, '\0');
    replay_->gap.resize(replay_->delivered.size(), true);
  }

 private:
  Replay* replay_;
};

std::string RandomBytes(std::mt19937& rng, size_t n) {
  std::string s(n, '\0');
  for (char& ch : s) ch = static_cast<char>(rng());
  return s;
}

// Cuts [0, n) into consecutive pieces, then adds overlapping copies and duplicates.
std::vector<Piece> RandomPieces(std::mt19937& rng, uint64_t n) {
  std::vector<Piece> pieces;
  for (uint64_t at = 0; at < n;) {
    const uint64_t size = std::min<uint64_t>(n - at, 1 + rng() % 300);
    pieces.push_back({at, size, size});
    at += size;
  }
  const size_t originals = pieces.size();
  for (size_t i = 0; i < originals / 2; ++i) {
    const uint64_t at = rng() % n;
    const uint64_t size = std::min<uint64_t>(n - at, 1 + rng() % 600);
    pieces.push_back({at, size, size});           // overlaps pieces at random
    pieces.push_back(pieces[rng() % originals]);  // a duplicate
  }
  std::shuffle(pieces.begin(), pieces.end(), rng);
  return pieces;
}

Replay Reassemble(const std::vector<Piece>& pieces, const std::string& stream, uint32_t isn,
           ReassemblyCounters* c) {
  Replay replay;
  Checker out(&replay);
  Reassembler r(ReassemblerLimits{.max_buffered_bytes = 1 << 30, .max_buffered_segments = 1 << 20},
                c);
  r.Push(Syn(isn - 1), out);
  for (const Piece& p : pieces) {
    r.Push(Cut(isn + static_cast<uint32_t>(p.offset),
               std::string_view(stream).substr(p.offset, p.captured),
               static_cast<uint32_t>(p.size)),
           out);
  }
  r.Flush(0, out);
  EXPECT_EQ(r.buffered_bytes(), 0u);
  return replay;
}

TEST(ReassemblerPropertyTest, ShuffledDuplicatedOverlappingSegmentsRebuildTheStream) {
  std::mt19937 rng(1);
  ReassemblyCounters all;
  for (int round = 0; round < 200; ++round) {
    const std::string stream = RandomBytes(rng, 1 + rng() % 20000);
    const std::vector<Piece> pieces = RandomPieces(rng, stream.size());
    const uint32_t isn = round % 2 == 0 ? static_cast<uint32_t>(rng()) : 0xFFFFF000u;
    ReassemblyCounters c;
    const Replay replay = Reassemble(pieces, stream, isn, &c);
    ASSERT_EQ(replay.delivered, stream) << "round " << round;
    EXPECT_EQ(replay.gaps, 0u);
    EXPECT_EQ(c.gaps, 0u);
    EXPECT_EQ(c.bytes_delivered, stream.size());
    EXPECT_EQ(c.segments, pieces.size());
    uint64_t pushed = 0;
    for (const Piece& p : pieces) pushed += p.size;
    EXPECT_EQ(c.overlap_bytes, pushed - stream.size());
    all.out_of_order += c.out_of_order;
    all.overlapping += c.overlapping;
    all.retransmitted += c.retransmitted;
  }
  // The rounds did exercise reordering, partial overlaps and whole duplicates.
  EXPECT_GT(all.out_of_order, 1000u);
  EXPECT_GT(all.overlapping, 1000u);
  EXPECT_GT(all.retransmitted, 1000u);
}

TEST(ReassemblerPropertyTest, DroppedSegmentsBecomeGapsExactlyWhereNothingArrived) {
  std::mt19937 rng(2);
  for (int round = 0; round < 200; ++round) {
    const std::string stream = RandomBytes(rng, 1 + rng() % 20000);
    std::vector<Piece> pieces = RandomPieces(rng, stream.size());
    // Keep one piece reaching the end so that the stream length is known.
    const auto last = std::find_if(pieces.begin(), pieces.end(), [&](const Piece& p) {
      return p.offset + p.size == stream.size();
    });
    std::vector<Piece> kept;
    for (auto it = pieces.begin(); it != pieces.end(); ++it) {
      if (it == last || rng() % 4 != 0) kept.push_back(*it);
    }
    std::vector<bool> covered(stream.size(), false);
    for (const Piece& p : kept) std::fill_n(covered.begin() + p.offset, p.size, true);
    ReassemblyCounters c;
    const Replay replay = Reassemble(kept, stream, static_cast<uint32_t>(rng()), &c);
    ASSERT_EQ(replay.delivered.size(), stream.size()) << "round " << round;
    uint64_t missing = 0;
    for (size_t i = 0; i < stream.size(); ++i) {
      ASSERT_EQ(replay.gap[i], !covered[i]) << "round " << round << " offset " << i;
      if (covered[i]) {
        ASSERT_EQ(replay.delivered[i], stream[i]) << "offset " << i;
      }
      missing += covered[i] ? 0 : 1;
    }
    EXPECT_EQ(c.gap_bytes, missing);
    EXPECT_EQ(c.gaps, replay.gaps);
    EXPECT_EQ(c.bytes_delivered + c.gap_bytes, stream.size());
  }
}

TEST(ReassemblerPropertyTest, SnaplenCutSegmentsNeverDeliverWrongBytes) {
  std::mt19937 rng(3);
  uint64_t gap_bytes = 0, delivered = 0;
  for (int round = 0; round < 200; ++round) {
    const std::string stream = RandomBytes(rng, 1 + rng() % 20000);
    std::vector<Piece> pieces = RandomPieces(rng, stream.size());
    for (Piece& p : pieces) {
      if (rng() % 3 == 0) p.captured = rng() % (p.size + 1);
    }
    // Every byte still arrives whole in some piece, so all of it is delivered or a gap.
    std::vector<bool> captured(stream.size(), false);
    for (const Piece& p : pieces) std::fill_n(captured.begin() + p.offset, p.captured, true);
    for (size_t i = 0; i < stream.size(); ++i) {
      if (!captured[i]) pieces.push_back({i, 1, 1});
    }
    std::shuffle(pieces.begin(), pieces.end(), rng);
    ReassemblyCounters c;
    const Replay replay = Reassemble(pieces, stream, static_cast<uint32_t>(rng()), &c);
    ASSERT_EQ(replay.delivered.size(), stream.size()) << "round " << round;
    for (size_t i = 0; i < stream.size(); ++i) {
      if (!replay.gap[i]) {
        ASSERT_EQ(replay.delivered[i], stream[i]) << "offset " << i;
      }
    }
    EXPECT_EQ(c.bytes_delivered + c.gap_bytes, stream.size());
    EXPECT_EQ(c.gaps, replay.gaps);
    gap_bytes += c.gap_bytes;
    delivered += c.bytes_delivered;
  }
  // Some missing bytes came next in line (gaps), most were filled by full copies.
  EXPECT_GT(gap_bytes, 0u);
  EXPECT_GT(delivered, 10 * gap_bytes);
}

}  // namespace
}  // namespace resptrace

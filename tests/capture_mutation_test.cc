// Real captures rewritten the ways a capture goes wrong, each decoded and checked against the
// decode of the unmodified capture. This kernel has no netem: loss, reordering and duplication
// are made by rewriting the captures' segments, with fixed seeds so that every run checks the
// same mutants (of the public captures; the live one is new each run).
//
// The mutations: segments dropped (one, several, a run of one direction), adjacent segments
// swapped (captured within 100 ms of each other, as a capture reorders them), segments
// duplicated a few places later, captured bytes cut short of a segment's length (one
// segment, several, or a snaplen over the whole capture), pure acknowledgements dropped,
// and all of these mixed. From the segments' sequence numbers the test knows which bytes of
// each direction of each connection the mutant lost, and from the unmodified capture's
// records which bytes each command's request and reply(s) are.
//
// What every mutant must show, the rule for the commands next to a loss included:
//
//  - The parser has each gap whole: the bytes no segment spans (a run of holes), or the
//    bytes a segment lacks (its cut tail). A gap is soft when it lies inside the body (or
//    the CRLF after it) of one bulk string, whose declared length says where it ends; any
//    other (a header, a line, a whole message, a handshake) is a hard loss.
//  - Reordering and duplication alone, and pure acknowledgements lost, change nothing: each
//    connection's records the same, in the same order; the same session counters; no gap.
//  - No command takes a reply that is not its own: every record with a reply is a command of
//    the unmodified capture with that same reply (its values cut where a soft loss took
//    bytes of them). No record is of a command that was never sent, and a connection's
//    records are in request order.
//  - A command whose request and reply bytes all survived (intact) is reported, exactly as
//    in the unmodified capture (every field, latency included), unless a hard loss came
//    before its reply's end, in either direction of its connection (on a joined connection,
//    whose pairing waits for a later proof of step, anywhere in it): then it may instead be
//    reported unmatched (`gap` or `desync`), its request exact. Losses after its reply, soft
//    losses, and losses on other connections change nothing of it; nor do losses in its
//    transaction, but what became of the transaction, which it may report `unknown` (or
//    not queued, its MULTI unseen), with no result from EXEC.
//  - A command with soft losses only is reported with the same pairing, each value its true
//    length with the lost bytes counted missing and only the bytes before them kept, and the
//    same sizes; or unmatched under the same condition as an intact one. After a request-side
//    hard loss, or on a joined connection, one whose command's name lost bytes may go
//    unreported: requests start again only at one whose command is known.
//  - A command with a hard loss takes no reply. It may go unreported only when its request
//    lost bytes, and not when its request lost only bytes after its command's name: the
//    command is known, and is reported without a reply.
//  - Every byte lost before a byte the capture has (or that the peer acknowledged) is counted
//    in the gaps, and no other, but for a FIN acknowledged before the capture had it.
//  - Memory stays bounded: no kept value is longer than --max-value-bytes allows, and the
//    decode holds at most twice what the unmodified capture's decode did, plus 1 MiB.
#include <malloc.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <map>
#include <new>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "redis_harness.h"
#include "resptrace/capture_reader.h"
#include "resptrace/collector.h"
#include "resptrace/pcap_writer.h"
#include "resptrace/resp_parser.h"

// Live heap bytes, counted while g_counting is set, so that the test can see how much a
// decode holds at its peak.
namespace {
std::atomic<bool> g_counting{false};
std::atomic<int64_t> g_live_bytes{0};
std::atomic<int64_t> g_peak_bytes{0};

void CountAllocation(void* p) {
  if (p == nullptr || !g_counting.load(std::memory_order_relaxed)) return;
  const int64_t now = g_live_bytes.fetch_add(static_cast<int64_t>(malloc_usable_size(p))) +
                      static_cast<int64_t>(malloc_usable_size(p));
  int64_t peak = g_peak_bytes.load(std::memory_order_relaxed);
  while (now > peak && !g_peak_bytes.compare_exchange_weak(peak, now)) {
  }
}

// Every form of new and delete is replaced, so that no allocation is made by one allocator
// and freed by another (AddressSanitizer has its own).
void* Allocate(size_t n) noexcept {
  void* p = std::malloc(n != 0 ? n : 1);
  CountAllocation(p);
  return p;
}
void Free(void* p) noexcept {
  if (p != nullptr && g_counting.load(std::memory_order_relaxed)) {
    g_live_bytes.fetch_sub(static_cast<int64_t>(malloc_usable_size(p)));
  }
  std::free(p);
}
}  // namespace

void* operator new(size_t n) {
  void* p = Allocate(n);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept { return Allocate(n); }
void* operator new[](size_t n, const std::nothrow_t&) noexcept { return Allocate(n); }
void operator delete(void* p) noexcept { Free(p); }
void operator delete[](void* p) noexcept { Free(p); }
void operator delete(void* p, size_t) noexcept { Free(p); }
void operator delete[](void* p, size_t) noexcept { Free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { Free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { Free(p); }

namespace resptrace {
namespace {

std::string DataPath(const std::string& rel) {
  return std::string(RESPTRACE_TEST_DATA) + "/" + rel;
}

// ---------------------------------------------------------------------------------------------
// Captures and mutants

struct Packet {
  Segment seg;        // its payload is set to `bytes` (or a prefix) when fed
  std::string bytes;  // the captured payload
};

std::vector<Packet> ReadCapture(const std::string& path) {
  std::vector<Packet> packets;
  auto reader = CaptureReader::Open(path);
  if (!reader.ok()) {
    ADD_FAILURE() << reader.status();
    return packets;
  }
  const absl::Status read = (*reader)->ReadAll([&](const Segment& s) {
    Packet p{s, std::string(s.payload)};
    p.seg.payload = {};
    packets.push_back(std::move(p));
  });
  EXPECT_TRUE(read.ok()) << read;
  return packets;
}

// One segment of a mutant: a packet of the capture and how many of its payload bytes were
// captured (fewer than its length: cut as by a snaplen).
struct Fed {
  uint32_t packet;
  uint32_t captured;
};

std::vector<Fed> Unmodified(const std::vector<Packet>& packets) {
  std::vector<Fed> feed;
  for (uint32_t i = 0; i < packets.size(); ++i) {
    feed.push_back(Fed{i, static_cast<uint32_t>(packets[i].bytes.size())});
  }
  return feed;
}

// ---------------------------------------------------------------------------------------------
// Decoding, records copied out

struct Snapshot {
  bool push = false;
  std::string client;
  Message request;
  std::string malformed;
  std::vector<Message> replies;  // the reply, or a pub/sub command's confirmations
  NoReply no_reply = NoReply::kAnswered;
  TxOutcome transaction = TxOutcome::kNone;
  std::string exec_result;  // Canon() of its result from EXEC, if linked
};

// Every field of a value, its subtree in preorder.
void CanonValue(const Message& m, const ValueNode* n, std::string* out) {
  absl::StrAppend(out, "(", static_cast<int>(n->type), n->truncated ? "t" : "", " ", n->full_len,
                  "/", n->missing, " ", n->children, "+", n->elided, " ");
  if (IsAggregate(n->type)) {
    const ValueNode* c = Message::first_child(n);
    for (uint32_t i = 0; i < n->children; ++i, c = Message::next_sibling(c)) CanonValue(m, c, out);
  } else {
    out->append(m.data(*n));
  }
  out->push_back(')');
}

std::string Canon(const Message& m) {
  std::string out = absl::StrCat(m.first_ts_ns, "..", m.last_ts_ns, " ", m.wire_bytes, "B",
                                 m.cut_short ? " cut" : "", m.inline_command ? " inline" : "", " ",
                                 static_cast<int>(m.root_type()), " ");
  if (m.root() != nullptr) CanonValue(m, m.root(), &out);
  return out;
}

std::string Canon(const Snapshot& s) {
  std::string out = absl::StrCat(s.push ? "push " : "command ", s.client, " ");
  if (!s.push) absl::StrAppend(&out, "request ", Canon(s.request), " malformed ", s.malformed);
  for (const Message& r : s.replies) absl::StrAppend(&out, " reply ", Canon(r));
  absl::StrAppend(&out, " no_reply ", std::string(NoReplyName(s.no_reply)), " tx ",
                  std::string(TxOutcomeName(s.transaction)), " exec ", s.exec_result);
  return out;
}

class SnapshotSink final : public RecordSink {
 public:
  void Write(const Record& r) override {
    // What the sink keeps is the test's, not the decode's: not counted.
    const bool counting = g_counting.exchange(false);
    if (r.kind == RecordKind::kGap) {
      EXPECT_EQ(r.request, nullptr);
      EXPECT_EQ(r.reply, nullptr);
      EXPECT_GT(r.gap_bytes, 0u);
      gap_bytes[std::string(r.client_name)][r.gap_in_requests ? 0 : 1] += r.gap_bytes;
      g_counting = counting;
      return;
    }
    Snapshot s;
    s.push = r.kind == RecordKind::kPush;
    s.client = std::string(r.client_name);
    if (r.request != nullptr) s.request = *r.request;
    s.malformed = std::string(r.malformed);
    if (!r.replies.empty()) {
      for (const Message* m : r.replies) s.replies.push_back(*m);
    } else if (r.reply != nullptr) {
      s.replies.push_back(*r.reply);
    }
    s.no_reply = r.no_reply;
    s.transaction = r.transaction;
    if (r.exec_result != nullptr) CanonValue(*r.exec_reply, r.exec_result, &s.exec_result);
    records.push_back(std::move(s));
    g_counting = counting;
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  std::vector<Snapshot> records;
  // The bytes gap records say each connection lost, from its requests [0] and replies [1].
  std::map<std::string, std::array<uint64_t, 2>> gap_bytes;
};

struct Output {
  std::vector<Snapshot> records;
  std::map<std::string, std::array<uint64_t, 2>> gap_bytes;
  CollectorCounters counters;
  int64_t peak_bytes = 0;  // heap the decode held at most
};

Output Decode(const std::vector<Packet>& packets, const std::vector<Fed>& feed, uint16_t port) {
  Output out;
  SnapshotSink sink;
  {
    g_live_bytes = 0;
    g_peak_bytes = 0;
    g_counting = true;
    CollectorOptions options;
    options.server_ports = {port};
    Collector collector(options, &sink);
    for (const Fed& f : feed) {
      Segment s = packets[f.packet].seg;
      s.payload = std::string_view(packets[f.packet].bytes).substr(0, f.captured);
      collector.OnSegment(s);
    }
    collector.Finish();
    g_counting = false;
    out.counters = collector.counters();
  }
  out.peak_bytes = g_peak_bytes;
  out.records = std::move(sink.records);
  out.gap_bytes = std::move(sink.gap_bytes);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Byte ranges

struct Range {
  uint64_t begin = 0;
  uint64_t end = 0;
};
using Ranges = std::vector<Range>;  // sorted, disjoint, none empty

void Add(Ranges& rs, Range r) {
  if (r.begin < r.end) rs.push_back(r);
}

Ranges Normalize(Ranges rs) {
  std::sort(rs.begin(), rs.end(), [](Range a, Range b) { return a.begin < b.begin; });
  Ranges out;
  for (Range r : rs) {
    if (!out.empty() && r.begin <= out.back().end) {
      out.back().end = std::max(out.back().end, r.end);
    } else {
      out.push_back(r);
    }
  }
  return out;
}

// [0, size) without `covered`.
Ranges Complement(const Ranges& covered, uint64_t size) {
  Ranges out;
  uint64_t at = 0;
  for (Range r : covered) {
    if (r.begin >= size) break;
    Add(out, Range{at, r.begin});
    at = std::max(at, r.end);
  }
  Add(out, Range{at, size});
  return out;
}

uint64_t OverlapBytes(const Ranges& rs, Range r) {
  uint64_t n = 0;
  for (Range x : rs) {
    const uint64_t b = std::max(x.begin, r.begin);
    const uint64_t e = std::min(x.end, r.end);
    if (b < e) n += e - b;
  }
  return n;
}

bool Overlaps(const Ranges& rs, Range r) { return OverlapBytes(rs, r) != 0; }

// ---------------------------------------------------------------------------------------------
// The unmodified capture, framed: every message of each direction with its bytes.

struct Framed {
  Range range;
  int64_t first_ts = 0;
  int64_t last_ts = 0;
  Ranges bodies;  // each bulk string's body; a loss there, or in its CRLF, is soft
};

// Records each message's place in the stream from a parser fed one buffer, piece by piece.
class Framer final : public RespHandler {
 public:
  Framer(const std::string* bytes, RespRole role)
      : bytes_(bytes), parser_(role, RespLimits{}, this) {}
  RespParser& parser() { return parser_; }
  std::vector<Framed> messages;

  void OnMessageBegin(int64_t ts_ns, bool inline_command) override {
    current_ = Framed{};
    current_.range.begin = parser_.message_offset();
    current_.first_ts = ts_ns;
    inline_ = inline_command;  // an inline line's arguments have no length to skip by
  }
  void OnAggregate(RespType, int64_t) override {}
  void OnScalar(const ScalarPiece& piece) override {
    const bool bulk = piece.type == RespType::kBulkString || piece.type == RespType::kBulkError ||
                      piece.type == RespType::kVerbatim;
    if (!bulk || !piece.first || inline_) return;
    const char* at = piece.data.data();
    uint64_t offset;
    if (at >= bytes_->data() && at <= bytes_->data() + bytes_->size() && at != nullptr) {
      offset = static_cast<uint64_t>(at - bytes_->data());
    } else {
      // An empty body, reported right after its header: the bytes so far end there.
      offset = parser_.message_offset() + parser_.message_bytes();
    }
    current_.bodies.push_back(Range{offset, offset + static_cast<uint64_t>(piece.declared_len)});
  }
  void OnMessageEnd(int64_t ts_ns, uint64_t wire_bytes) override {
    current_.range.end = current_.range.begin + wire_bytes;
    current_.last_ts = ts_ns;
    messages.push_back(current_);
  }
  void OnProtocolError(RespError, int64_t, uint64_t) override {}
  void OnResync(uint64_t, int64_t) override {}

 private:
  const std::string* bytes_;
  RespParser parser_;
  Framed current_;
  bool inline_ = false;
};

// One direction of one connection of the unmodified capture.
struct Direction {
  uint32_t base = 0;  // sequence number of stream offset 0
  uint64_t size = 0;
  std::vector<Framed> messages;
  Ranges soft;                    // every body with its CRLF: where a loss is soft
  std::vector<uint32_t> packets;  // its packets with payload, in capture order

  uint64_t Offset(uint32_t seq) const {
    return static_cast<uint64_t>(static_cast<int32_t>(seq - base));
  }
};

// A command of the unmodified capture: its record and its messages.
struct Truth {
  const Snapshot* record = nullptr;
  int request = -1;          // index in the request direction's messages
  std::vector<int> replies;  // indexes in the reply direction's messages
  uint64_t reply_end = 0;    // where its last reply ends; 0 without one
  // Queued in a transaction: the commands from its MULTI to the one that ended it (EXEC,
  // DISCARD), indexes among the connection's commands. What became of the transaction is
  // known from them all.
  size_t tx_first = SIZE_MAX;
  size_t tx_last = SIZE_MAX;
};

struct Connection {
  std::string client;
  bool handshake = false;       // its first packet is a SYN: it is known from its start
  Direction dir[2];             // 0: requests, 1: replies
  std::vector<Truth> commands;  // in request order
};

// Each connection's records, in the order written, in Canon() form.
using RecordsByConnection = std::map<std::string, std::vector<std::string>>;

RecordsByConnection ByConnection(const std::vector<Snapshot>& records) {
  RecordsByConnection by;
  for (const Snapshot& s : records) by[s.client].push_back(Canon(s));
  return by;
}

struct GroundTruth {
  uint16_t port = 0;  // the server's
  std::vector<Packet> packets;
  Output clean;
  RecordsByConnection clean_by_connection;
  std::map<std::string, Connection> connections;  // by client endpoint
  std::vector<std::string> packet_client;         // each packet's connection; "" for other traffic
  std::vector<int> packet_dir;                    // 0 from the client, 1 from the server
};

bool SameFraming(const Message& m, const Framed& f) {
  return m.first_ts_ns == f.first_ts && m.wire_bytes == f.range.end - f.range.begin;
}

GroundTruth Analyse(const std::string& rel, const std::string& path, uint16_t port) {
  GroundTruth g;
  g.port = port;
  g.packets = ReadCapture(path);
  g.clean = Decode(g.packets, Unmodified(g.packets), port);
  g.clean_by_connection = ByConnection(g.clean.records);
  g.packet_client.resize(g.packets.size());
  g.packet_dir.resize(g.packets.size());
  // Connections and their directions' bases, from the packets.
  for (uint32_t i = 0; i < g.packets.size(); ++i) {
    const Segment& s = g.packets[i].seg;
    const bool to_server = s.flow.dst.port == port;
    if (!to_server && s.flow.src.port != port) continue;
    const std::string client = (to_server ? s.flow.src : s.flow.dst).ToString();
    auto [it, inserted] = g.connections.try_emplace(client);
    Connection& c = it->second;
    if (inserted) {
      c.client = client;
      c.handshake = s.has(tcp_flags::kSyn);
    }
    const int d = to_server ? 0 : 1;
    g.packet_client[i] = client;
    g.packet_dir[i] = d;
    Direction& dir = c.dir[d];
    if (s.has(tcp_flags::kSyn)) {
      dir.base = s.seq + 1;
    } else if (s.payload_len != 0 && dir.packets.empty() && !c.handshake) {
      dir.base = s.seq;  // joined: the stream starts at its first bytes
    }
    if (s.payload_len != 0) dir.packets.push_back(i);
  }
  for (auto& [client, c] : g.connections) {
    for (int d = 0; d < 2; ++d) {
      Direction& dir = c.dir[d];
      std::string bytes;
      std::vector<std::pair<uint64_t, uint32_t>> pieces;  // offset, packet
      for (uint32_t i : dir.packets) {
        const Packet& p = g.packets[i];
        const uint64_t off = dir.Offset(p.seg.seq);
        EXPECT_EQ(p.bytes.size(), p.seg.payload_len) << rel << ": the unmodified capture is cut";
        dir.size = std::max(dir.size, off + p.seg.payload_len);
        pieces.emplace_back(off, i);
      }
      bytes.resize(dir.size);
      std::stable_sort(pieces.begin(), pieces.end());
      Framer framer(&bytes, d == 0 ? RespRole::kRequest : RespRole::kReply);
      if (!c.handshake) framer.parser().StartMidStream();
      uint64_t at = 0;
      for (const auto& [off, i] : pieces) {
        const Packet& p = g.packets[i];
        bytes.replace(off, p.bytes.size(), p.bytes);
        if (off + p.bytes.size() <= at) continue;  // a retransmission
        EXPECT_LE(off, at) << rel << " " << client << ": a hole in the unmodified capture";
        const uint64_t from = std::max(at, off);
        framer.parser().Feed(std::string_view(bytes).substr(from, off + p.bytes.size() - from),
                             p.seg.ts_ns);
        at = off + p.bytes.size();
      }
      dir.messages = std::move(framer.messages);
      for (const Framed& m : dir.messages) {
        for (Range b : m.bodies) dir.soft.push_back(Range{b.begin, b.end + 2});
      }
      dir.soft = Normalize(dir.soft);
    }
  }
  // Each command record's request and replies among the messages, in order: records of a
  // connection are in request order, and a command's replies come in the order of commands.
  std::map<std::string, std::pair<size_t, size_t>> cursor;  // next request, next reply
  for (const Snapshot& r : g.clean.records) {
    if (r.push) continue;
    Connection& c = g.connections[r.client];
    auto& [next_request, next_reply] = cursor[r.client];
    Truth t;
    t.record = &r;
    const auto& requests = c.dir[0].messages;
    while (next_request < requests.size() && !SameFraming(r.request, requests[next_request]))
      ++next_request;
    if (next_request == requests.size()) {
      ADD_FAILURE() << rel << ": no request for " << Canon(r);
      continue;
    }
    t.request = static_cast<int>(next_request++);
    const auto& replies = c.dir[1].messages;
    for (const Message& m : r.replies) {
      while (next_reply < replies.size() && !(SameFraming(m, replies[next_reply]) &&
                                              m.last_ts_ns == replies[next_reply].last_ts)) {
        ++next_reply;
      }
      if (next_reply == replies.size()) {
        ADD_FAILURE() << rel << ": no reply for " << Canon(r);
        break;
      }
      t.replies.push_back(static_cast<int>(next_reply));
      t.reply_end = replies[next_reply++].range.end;
    }
    c.commands.push_back(t);
  }
  for (auto& [client, c] : g.connections) {
    auto queued = [&](size_t j) { return c.commands[j].record->transaction != TxOutcome::kNone; };
    for (size_t j = 0; j < c.commands.size(); ++j) {
      if (!queued(j)) continue;
      size_t first = j;
      while (first > 0 && queued(first)) --first;
      size_t last = j;
      while (last + 1 < c.commands.size() && queued(last)) ++last;
      c.commands[j].tx_first = first;
      c.commands[j].tx_last = last;
    }
  }
  return g;
}

// ---------------------------------------------------------------------------------------------
// What a mutant lost

struct Loss {
  Ranges lost[2];  // bytes of each direction that no fed segment captured
  // Those of them that reach the parser as a gap outside any one body and its CRLF. The
  // parser has each gap whole: the bytes no segment spans (a run of holes, declared at
  // once), or those a segment lacks (its cut tail, declared as it comes), not both at once.
  Ranges hard[2];
  uint64_t visible = 0;  // lost bytes before a byte captured or acknowledged: gap bytes due
  // Of each direction: the lost bytes before a byte captured or acknowledged, and how
  // many of those are a hard loss.
  uint64_t visible_lost[2] = {0, 0};
  uint64_t visible_hard[2] = {0, 0};
  // Directions whose FIN the peer acknowledged before the capture had it (dropped, or
  // captured after bytes before it were lost): the acknowledgement reads as one byte more.
  uint64_t fin_lost = 0;
  bool handshake_lost = false;
};

// The gaps not inside a single soft range.
Ranges HardPart(const Ranges& gaps, const Ranges& soft) {
  Ranges out;
  for (Range r : gaps) {
    const auto it = std::upper_bound(soft.begin(), soft.end(), r.begin,
                                     [](uint64_t v, Range s) { return v < s.begin; });
    const bool inside =
        it != soft.begin() && std::prev(it)->begin <= r.begin && r.end <= std::prev(it)->end;
    if (!inside) out.push_back(r);
  }
  return out;
}

Loss LossOf(const GroundTruth& g, const Connection& c, const std::vector<Fed>& feed) {
  Loss loss;
  Ranges covered[2];              // bytes captured
  Ranges spanned[2];              // bytes of the segments fed, captured or not
  Ranges tails[2];                // bytes segments lack: cut short of their length
  uint64_t seen_end[2] = {0, 0};  // past the last byte a fed segment carried or the peer acked
  bool fin_fed[2] = {false, false};
  bool fin_acked_first[2] = {false, false};
  bool syn_fed = false;
  for (const Fed& f : feed) {
    if (g.packet_client[f.packet] != c.client) continue;
    const int d = g.packet_dir[f.packet];
    const Segment& s = g.packets[f.packet].seg;
    if (s.has(tcp_flags::kSyn)) syn_fed = true;
    if (s.has(tcp_flags::kFin)) fin_fed[d] = true;
    const Direction& dir = c.dir[d];
    if (s.payload_len != 0) {
      const uint64_t off = dir.Offset(s.seq);
      Add(covered[d], Range{off, off + f.captured});
      Add(spanned[d], Range{off, off + s.payload_len});
      Add(tails[d], Range{off + f.captured, off + s.payload_len});
      seen_end[d] = std::max(seen_end[d], off + s.payload_len);
    }
    if (s.has(tcp_flags::kAck) && !s.has(tcp_flags::kSyn)) {
      const Direction& peer = c.dir[1 - d];
      const auto acked = static_cast<int32_t>(s.ack - peer.base);
      if (acked > 0) seen_end[1 - d] = std::max(seen_end[1 - d], static_cast<uint64_t>(acked));
      if (acked > 0 && static_cast<uint64_t>(acked) > peer.size && !fin_fed[1 - d])
        fin_acked_first[1 - d] = true;
    }
  }
  loss.handshake_lost = c.handshake && !syn_fed;
  for (int d = 0; d < 2; ++d) {
    const Direction& dir = c.dir[d];
    const Ranges captured = Normalize(covered[d]);
    loss.lost[d] = Complement(captured, dir.size);
    // A cut tail that another copy of its bytes fills is no gap.
    Ranges gaps = Complement(Normalize(spanned[d]), dir.size);
    std::sort(tails[d].begin(), tails[d].end(), [](Range a, Range b) { return a.begin < b.begin; });
    tails[d].erase(
        std::unique(tails[d].begin(), tails[d].end(),
                    [](Range a, Range b) { return a.begin == b.begin && a.end == b.end; }),
        tails[d].end());
    for (Range t : tails[d]) {
      if (!Overlaps(captured, t)) gaps.push_back(t);
    }
    std::sort(gaps.begin(), gaps.end(), [](Range a, Range b) { return a.begin < b.begin; });
    loss.hard[d] = HardPart(gaps, dir.soft);
    const Range shown{0, std::min(seen_end[d], dir.size)};
    loss.visible_lost[d] = OverlapBytes(loss.lost[d], shown);
    loss.visible_hard[d] = OverlapBytes(loss.hard[d], shown);
    loss.visible += loss.visible_lost[d];
    // The peer's acknowledgement of a FIN the capture lost reads as one more byte lost.
    if (fin_acked_first[d]) {
      ++loss.fin_lost;
      ++loss.visible_lost[d];
    }
  }
  return loss;
}

// ---------------------------------------------------------------------------------------------
// Checking a mutant

// `m` is `g` with bytes lost from bulk bodies: the same shape, each value its true length, the
// lost bytes counted missing and only those before them kept. Returns what differs.
std::string Degraded(const Message& g, const Message& m, uint64_t lost_body_bytes) {
  if (g.wire_bytes != m.wire_bytes) return "wire bytes differ";
  if (g.root_type() != m.root_type()) return "types differ";
  if (g.nodes().size() != m.nodes().size()) return "shapes differ";
  uint64_t missing = 0;
  bool elided = false;
  for (size_t i = 0; i < g.nodes().size(); ++i) {
    const ValueNode& a = g.nodes()[i];
    const ValueNode& b = m.nodes()[i];
    if (a.type != b.type || a.children != b.children || a.elided != b.elided ||
        a.subtree != b.subtree) {
      return absl::StrCat("node ", i, " differs in shape");
    }
    elided |= a.elided != 0;
    if (IsAggregate(a.type)) continue;
    if (a.full_len != b.full_len)
      return absl::StrCat("node ", i, ": length ", b.full_len, ", not ", a.full_len);
    if (b.missing < a.missing) return absl::StrCat("node ", i, ": fewer bytes missing");
    missing += b.missing - a.missing;
    const std::string_view kept = m.data(b);
    if (b.missing == a.missing) {
      if (kept != g.data(a) || a.truncated != b.truncated)
        return absl::StrCat("node ", i, " differs");
    } else if (!g.data(a).starts_with(kept) || !b.truncated) {
      return absl::StrCat("node ", i, ": kept bytes are not the value's first ones");
    }
  }
  // Values left out past --max-elements do not count their missing bytes.
  if (elided ? missing > lost_body_bytes : missing != lost_body_bytes) {
    return absl::StrCat(missing, " bytes missing, ", lost_body_bytes, " lost");
  }
  return "";
}

uint64_t LostBodyBytes(const Ranges& lost, const Framed& f) {
  uint64_t n = 0;
  for (Range b : f.bodies) n += OverlapBytes(lost, b);
  return n;
}

// `m`'s request is `g`'s, or what a loss left of it.
bool RequestMatches(const Snapshot& g, const Snapshot& m) {
  if (g.request.first_ts_ns != m.request.first_ts_ns) return false;
  if (Canon(g.request) == Canon(m.request)) return true;
  const auto& a = g.request.nodes();
  const auto& b = m.request.nodes();
  if (b.size() > a.size()) return false;
  if (b.size() < a.size() && !m.request.cut_short) return false;
  for (size_t i = 0; i < b.size(); ++i) {
    if (a[i].type != b[i].type) return false;
    if (IsAggregate(a[i].type)) continue;
    if (a[i].full_len != b[i].full_len || !g.request.data(a[i]).starts_with(m.request.data(b[i]))) {
      return false;
    }
  }
  return true;
}

// The record without what its transaction's end decides.
Snapshot WithoutTransaction(const Snapshot& s) {
  Snapshot out = s;
  out.transaction = TxOutcome::kNone;
  out.exec_result.clear();
  return out;
}

bool Unmatched(const Snapshot& m) {
  return m.replies.empty() && (m.no_reply == NoReply::kGap || m.no_reply == NoReply::kDesync);
}

std::string Describe(const Snapshot& s) { return Canon(s).substr(0, 600); }

// With RESPTRACE_MUTANT_DIR set, a mutant that fails is written there as a capture, to be
// replayed with resptrace -r.
void SaveMutant(const GroundTruth& g, const std::vector<Fed>& feed, const std::string& name) {
  const char* dir = std::getenv("RESPTRACE_MUTANT_DIR");
  if (dir == nullptr) return;
  std::string file = name;
  for (char& ch : file) {
    if (ch == '/' || ch == ' ' || ch == ',' || ch == ':') ch = '_';
  }
  auto writer = PcapWriter::ForSegments(absl::StrCat(dir, "/", file, ".pcap"));
  ASSERT_TRUE(writer.ok()) << writer.status();
  for (const Fed& f : feed) {
    Segment s = g.packets[f.packet].seg;
    s.payload = std::string_view(g.packets[f.packet].bytes).substr(0, f.captured);
    (*writer)->WriteSegment(s);
  }
  EXPECT_TRUE((*writer)->Close().ok());
}

void CheckMutant(const GroundTruth& g, const std::vector<Fed>& feed, bool reorder_only);

int FailuresSoFar() {
  return ::testing::UnitTest::GetInstance()->current_test_info()->result()->total_part_count();
}

// Checks one mutant against the ground truth; failures name the mutant. True when it passed.
bool Check(const GroundTruth& g, const std::vector<Fed>& feed, const std::string& name,
           bool reorder_only) {
  SCOPED_TRACE(name);
  const int failures = FailuresSoFar();
  CheckMutant(g, feed, reorder_only);
  if (FailuresSoFar() == failures) return true;
  SaveMutant(g, feed, name);
  return false;
}

void CheckMutant(const GroundTruth& g, const std::vector<Fed>& feed, bool reorder_only) {
  const Output out = Decode(g.packets, feed, g.port);
  const SessionCounters& gs = g.clean.counters.session;
  const SessionCounters& ms = out.counters.session;

  // Memory: kept values are cut, and the decode holds not much more than the clean one: a
  // loss costs segments held for bytes that may come reordered, out-of-order bytes, and
  // replies held until the connection is proven in step again.
  const MessageLimits limits;
  const auto check_kept = [&](const Message& m) {
    // A command's name is kept to 64 bytes, whatever the cut for values.
    for (const ValueNode& n : m.nodes())
      ASSERT_LE(n.data_len, std::max<uint64_t>(limits.max_value_bytes, 64));
  };
  for (const Snapshot& r : out.records) {
    check_kept(r.request);
    for (const Message& m : r.replies) check_kept(m);
    if (::testing::Test::HasFatalFailure()) return;
  }
  EXPECT_LE(out.peak_bytes, 2 * g.clean.peak_bytes + (1 << 20));

  uint64_t visible = 0;
  uint64_t fin_lost = 0;
  bool lossy = false;
  std::map<std::string, Loss> losses;
  for (const auto& [client, c] : g.connections) {
    Loss l = LossOf(g, c, feed);
    visible += l.visible;
    fin_lost += l.fin_lost;
    lossy |= !l.lost[0].empty() || !l.lost[1].empty() || l.handshake_lost;
    losses.emplace(client, std::move(l));
  }
  const ReassemblyCounters& r = out.counters.reassembly;
  EXPECT_GE(r.gap_bytes, visible);
  EXPECT_LE(r.gap_bytes, visible + fin_lost);
  // A hard loss the capture shows is in the records, as gap records of its connection and
  // direction; a loss inside a value is not (the value says so), and bytes not lost never.
  for (const auto& [client, l] : losses) {
    const auto it = out.gap_bytes.find(client);
    for (int d = 0; d < 2; ++d) {
      const uint64_t recorded = it == out.gap_bytes.end() ? 0 : it->second[d];
      SCOPED_TRACE(absl::StrCat(client, d == 0 ? " requests" : " replies"));
      EXPECT_LE(recorded, l.visible_lost[d]);
      if (l.visible_hard[d] != 0) {
        EXPECT_GT(recorded, 0u) << "a hard loss with no gap record";
      }
    }
  }
  for (const auto& [client, bytes] : out.gap_bytes) {
    EXPECT_TRUE(losses.count(client) != 0) << "a gap record of a connection never seen";
  }

  if (!lossy && reorder_only) {
    // Nothing lost: nothing may change. Each connection's records are the same, in the same
    // order; segments of different connections swapped may interleave them otherwise.
    EXPECT_EQ(r.gaps, 0u);
    const RecordsByConnection got = ByConnection(out.records);
    ASSERT_EQ(got.size(), g.clean_by_connection.size());
    for (const auto& [client, want] : g.clean_by_connection) {
      const auto it = got.find(client);
      ASSERT_NE(it, got.end()) << "no record of " << client;
      for (size_t i = 0; i < std::max(want.size(), it->second.size()); ++i) {
        ASSERT_LT(i, want.size()) << "a record more: " << it->second[i].substr(0, 600);
        ASSERT_LT(i, it->second.size()) << "a record less: " << want[i].substr(0, 600);
        // Where they first differ, and what comes there.
        const std::string& a = it->second[i];
        const std::string& b = want[i];
        const size_t at = static_cast<size_t>(
            std::mismatch(a.begin(), a.end(), b.begin(), b.end()).first - a.begin());
        ASSERT_EQ(a, b) << "record " << i << " differs at " << at << ": "
                        << a.substr(at > 200 ? at - 200 : 0, 400)
                        << "\nnot: " << b.substr(at > 200 ? at - 200 : 0, 400);
      }
    }
    EXPECT_EQ(ms.commands, gs.commands);
    EXPECT_EQ(ms.replies, gs.replies);
    EXPECT_EQ(ms.pushes, gs.pushes);
    EXPECT_EQ(ms.orphan_replies, gs.orphan_replies);
    EXPECT_EQ(ms.desyncs, gs.desyncs);
    EXPECT_EQ(ms.request_errors, gs.request_errors);
    EXPECT_EQ(ms.reply_errors, gs.reply_errors);
    EXPECT_EQ(ms.realigned, gs.realigned);
    return;
  }

  // The mutant's command records by connection, in the order written (request order).
  std::map<std::string, std::vector<const Snapshot*>> mutant;
  for (const Snapshot& s : out.records) {
    if (!s.push) mutant[s.client].push_back(&s);
  }
  for (const auto& [client, records] : mutant) {
    const auto it = g.connections.find(client);
    if (it == g.connections.end()) {
      ADD_FAILURE() << "records of a connection the capture does not have: "
                    << Describe(*records[0]);
      continue;
    }
    const Connection& c = it->second;
    const Loss& loss = losses.at(client);
    // Pair each record with the command it reports: the next one whose request it is.
    std::vector<const Snapshot*> reported(c.commands.size(), nullptr);
    size_t next = 0;
    for (const Snapshot* m : records) {
      size_t j = next;
      while (j < c.commands.size() && !RequestMatches(*c.commands[j].record, *m)) ++j;
      if (j == c.commands.size()) {
        ADD_FAILURE() << "a command never sent (or out of order): " << Describe(*m);
        continue;
      }
      reported[j] = m;
      next = j + 1;
    }
    const Direction& req = c.dir[0];
    const Direction& rep = c.dir[1];
    const auto lost_bytes = [&](size_t j, const Ranges* lost) {
      const Truth& t = c.commands[j];
      if (Overlaps(lost[0], req.messages[t.request].range)) return true;
      for (int k : t.replies) {
        if (Overlaps(lost[1], rep.messages[k].range)) return true;
      }
      return false;
    };
    for (size_t j = 0; j < c.commands.size(); ++j) {
      const Truth& t = c.commands[j];
      const Snapshot& want = *t.record;
      const Snapshot* got = reported[j];
      const Framed& request = req.messages[t.request];
      SCOPED_TRACE(absl::StrCat("command ", j, " of ", client, ": ", Describe(want)));
      // Every loss that can leave the connection out of step before this command's reply.
      // A joined connection pairs only once later exchanges prove it in step: a loss
      // anywhere can take that proof away, even one inside a value (a message cut by it
      // cannot be told from a reply, and a proof counts every reply of an exchange).
      const uint64_t reply_end = t.replies.empty() || !c.handshake ? UINT64_MAX : t.reply_end;
      const uint64_t request_end = c.handshake ? request.range.end : UINT64_MAX;
      const bool may_lose_step =
          loss.handshake_lost ||
          (!c.handshake && (!loss.lost[0].empty() || !loss.lost[1].empty())) ||
          (!loss.hard[0].empty() && loss.hard[0].front().begin < request_end) ||
          (!loss.hard[1].empty() && loss.hard[1].front().begin < reply_end);
      const bool request_hard = Overlaps(loss.hard[0], request.range);
      const bool request_lost = Overlaps(loss.lost[0], request.range);
      bool reply_hard = false;
      bool reply_lost = false;
      for (int k : t.replies) {
        reply_hard |= Overlaps(loss.hard[1], rep.messages[k].range);
        reply_lost |= Overlaps(loss.lost[1], rep.messages[k].range);
      }
      // Its command's name: lost bytes there leave the command unknown.
      const Range name{request.range.begin,
                       request.bodies.empty() ? request.range.end : request.bodies[0].end + 2};
      if (request_hard || reply_hard) {
        if (got != nullptr) {
          EXPECT_TRUE(got->replies.empty())
              << "a reply for a command with a lost header: " << Describe(*got);
        } else {
          EXPECT_TRUE(Overlaps(loss.lost[0], name)) << "a command lost silently";
        }
        continue;
      }
      if (got == nullptr) {
        // After requests were lost, and on a joined connection, requests start again at one
        // whose command is known: one whose name lost bytes is not.
        const bool searching =
            !c.handshake || (!loss.hard[0].empty() && loss.hard[0].front().begin < name.begin);
        EXPECT_TRUE(searching && Overlaps(loss.lost[0], name))
            << "a command whose header bytes all survived is not reported";
        continue;
      }
      if (may_lose_step && Unmatched(*got)) {
        EXPECT_TRUE(
            Canon(got->request) == Canon(want.request) ||
            Degraded(want.request, got->request, LostBodyBytes(loss.lost[0], request)).empty())
            << Describe(*got);
        continue;
      }
      // Queued in a transaction that lost bytes (its MULTI, its EXEC, another command's
      // QUEUED): its end may be unknown, or its MULTI unseen, and its result from EXEC
      // unlinked. The rest of the record is as exact as any other.
      bool tx_lost = false;
      for (size_t k = t.tx_first; k != SIZE_MAX && k <= t.tx_last; ++k)
        tx_lost |= lost_bytes(k, loss.lost);
      if (tx_lost) {
        EXPECT_TRUE(got->transaction == want.transaction ||
                    got->transaction == TxOutcome::kUnknown || got->transaction == TxOutcome::kNone)
            << Describe(*got);
        if (got->transaction == want.transaction && !lost_bytes(t.tx_last, loss.lost)) {
          EXPECT_TRUE(got->exec_result.empty() || got->exec_result == want.exec_result)
              << Describe(*got);
        }
      }
      const Snapshot& got_rest = tx_lost ? WithoutTransaction(*got) : *got;
      const Snapshot& want_rest = tx_lost ? WithoutTransaction(want) : want;
      if (!request_lost && !reply_lost) {
        EXPECT_EQ(Canon(got_rest), Canon(want_rest));
        continue;
      }
      // Soft losses only: the same pairing, values cut where the bytes were lost.
      std::string why =
          request_lost ? Degraded(want.request, got->request, LostBodyBytes(loss.lost[0], request))
                       : (Canon(got->request) == Canon(want.request) ? "" : "request differs");
      EXPECT_EQ(why, "") << "request: " << Describe(*got);
      ASSERT_EQ(got->replies.size(), want.replies.size()) << Describe(*got);
      for (size_t k = 0; k < want.replies.size(); ++k) {
        const Framed& f = rep.messages[t.replies[k]];
        why = Overlaps(loss.lost[1], f.range)
                  ? Degraded(want.replies[k], got->replies[k], LostBodyBytes(loss.lost[1], f))
              : Canon(want.replies[k]) == Canon(got->replies[k]) ? ""
                                                                 : "reply differs";
        EXPECT_EQ(why, "") << "reply " << k << ": " << Describe(*got);
      }
      EXPECT_EQ(got->no_reply, want.no_reply);
      EXPECT_EQ(got_rest.transaction, want_rest.transaction);
    }
  }
  for (const auto& [client, c] : g.connections) {
    if (mutant.count(client) != 0) continue;
    // Not one record: every command's header must have been lost.
    const Loss& loss = losses.at(client);
    for (const Truth& t : c.commands) {
      const Framed& request = c.dir[0].messages[t.request];
      EXPECT_TRUE(Overlaps(loss.hard[0], request.range))
          << "a command lost silently: " << Describe(*t.record);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Mutations

enum class Kind {
  kDropOne,
  kDropSeveral,
  kDropRun,
  kSwap,
  kDuplicate,
  kTruncateOne,
  kTruncateSeveral,
  kSnaplen,
  kDropAcks,
  kMix,
};
constexpr int kKinds = 10;

const char* KindName(Kind k) {
  switch (k) {
    case Kind::kDropOne:
      return "drop one";
    case Kind::kDropSeveral:
      return "drop several";
    case Kind::kDropRun:
      return "drop a run";
    case Kind::kSwap:
      return "swap adjacent";
    case Kind::kDuplicate:
      return "duplicate";
    case Kind::kTruncateOne:
      return "cut one";
    case Kind::kTruncateSeveral:
      return "cut several";
    case Kind::kSnaplen:
      return "snaplen";
    case Kind::kDropAcks:
      return "drop acks";
    case Kind::kMix:
      return "mix";
  }
  return "";
}

class Mutator {
 public:
  Mutator(const GroundTruth& g, uint64_t seed) : g_(g), rng_(seed), feed_(Unmodified(g.packets)) {
    for (const auto& [client, c] : g.connections) {
      for (const Direction& d : c.dir) {
        // A joined stream starts at its first bytes: those stay first, or the stream would
        // start elsewhere.
        if (!c.handshake && !d.packets.empty()) fixed_.insert(d.packets.front());
      }
    }
  }

  std::vector<Fed> Apply(Kind kind) {
    switch (kind) {
      case Kind::kDropOne:
        Drop(1);
        break;
      case Kind::kDropSeveral:
        Drop(Uniform(2, 5));
        break;
      case Kind::kDropRun:
        DropRun();
        break;
      case Kind::kSwap:
        Swap(Uniform(1, 5));
        break;
      case Kind::kDuplicate:
        Duplicate(Uniform(1, 5));
        break;
      case Kind::kTruncateOne:
        Truncate(1);
        break;
      case Kind::kTruncateSeveral:
        Truncate(Uniform(2, 5));
        break;
      case Kind::kSnaplen:
        Snaplen();
        break;
      case Kind::kDropAcks:
        DropAcks(Uniform(1, 5));
        break;
      case Kind::kMix:
        // Cuts before copies, so that both copies of a segment are cut alike.
        Truncate(1);
        Drop(1);
        Swap(2);
        Duplicate(2);
        break;
    }
    return feed_;
  }

 private:
  size_t Uniform(size_t lo, size_t hi) {
    return std::uniform_int_distribution<size_t>(lo, hi)(rng_);
  }
  bool Ours(uint32_t packet) const { return !g_.packet_client[packet].empty(); }
  bool Mutable(size_t at) const {
    return Ours(feed_[at].packet) && fixed_.count(feed_[at].packet) == 0;
  }
  bool HasPayload(size_t at) const { return g_.packets[feed_[at].packet].seg.payload_len != 0; }
  bool PureAck(size_t at) const {
    const Segment& s = g_.packets[feed_[at].packet].seg;
    return s.payload_len == 0 && s.flags == tcp_flags::kAck;
  }
  // A random place in the feed where `ok` holds; SIZE_MAX when there is none.
  template <typename Pred>
  size_t Pick(Pred ok) {
    std::vector<size_t> at;
    for (size_t i = 0; i < feed_.size(); ++i) {
      if (ok(i)) at.push_back(i);
    }
    return at.empty() ? SIZE_MAX : at[Uniform(0, at.size() - 1)];
  }
  void Drop(size_t n) {
    for (size_t k = 0; k < n; ++k) {
      const size_t at = Pick([&](size_t i) { return Mutable(i) && HasPayload(i); });
      if (at != SIZE_MAX) feed_.erase(feed_.begin() + static_cast<ptrdiff_t>(at));
    }
  }
  void DropRun() {
    // Consecutive segments of one direction of one connection.
    const size_t first = Pick([&](size_t i) { return Mutable(i) && HasPayload(i); });
    if (first == SIZE_MAX) return;
    const uint32_t p = feed_[first].packet;
    const auto& dir = g_.connections.at(g_.packet_client[p]).dir[g_.packet_dir[p]].packets;
    auto it = std::find(dir.begin(), dir.end(), p);
    std::set<uint32_t> run;
    for (size_t n = Uniform(2, 4); n > 0 && it != dir.end(); --n, ++it) {
      if (fixed_.count(*it) == 0) run.insert(*it);
    }
    std::erase_if(feed_, [&](const Fed& f) { return run.count(f.packet) != 0; });
  }
  void Swap(size_t n) {
    // A capture reorders segments captured moments apart (per-CPU buffers, two interfaces),
    // not seconds: swapped segments were captured within 100 ms of each other.
    constexpr int64_t kReorderWindowNs = 100'000'000;
    const auto close = [&](size_t i) {
      const int64_t a = g_.packets[feed_[i].packet].seg.ts_ns;
      const int64_t b = g_.packets[feed_[i + 1].packet].seg.ts_ns;
      return std::max(a, b) - std::min(a, b) <= kReorderWindowNs;
    };
    // Two copies of the same bytes (a retransmission right after its original) swapped
    // change which one is first, and so the time the bytes came: not a reordering.
    const auto copies = [&](size_t i) {
      const Segment& a = g_.packets[feed_[i].packet].seg;
      const Segment& b = g_.packets[feed_[i + 1].packet].seg;
      return a.flow == b.flow && a.payload_len != 0 && b.payload_len != 0 &&
             static_cast<int32_t>(a.seq - (b.seq + b.payload_len)) < 0 &&
             static_cast<int32_t>(b.seq - (a.seq + a.payload_len)) < 0;
    };
    for (size_t k = 0; k < n; ++k) {
      const size_t at = Pick([&](size_t i) {
        return i + 1 < feed_.size() && Mutable(i) && Mutable(i + 1) && close(i) && !copies(i);
      });
      if (at != SIZE_MAX) std::swap(feed_[at], feed_[at + 1]);
    }
  }
  void Duplicate(size_t n) {
    for (size_t k = 0; k < n; ++k) {
      const size_t at = Pick([&](size_t i) { return Mutable(i); });
      if (at == SIZE_MAX) continue;
      const size_t to = std::min(feed_.size(), at + Uniform(1, 3));
      const Fed copy = feed_[at];
      feed_.insert(feed_.begin() + static_cast<ptrdiff_t>(to), copy);
    }
  }
  void Truncate(size_t n) {
    for (size_t k = 0; k < n; ++k) {
      const size_t at = Pick([&](size_t i) { return Mutable(i) && feed_[i].captured != 0; });
      if (at == SIZE_MAX) continue;
      const uint32_t keep = static_cast<uint32_t>(Uniform(0, feed_[at].captured - 1));
      // A cut is the capture's, as a snaplen's: the capture's retransmissions of the same
      // bytes are cut alike. (One cut alone loses its bytes when they are next in line, a
      // later whole copy notwithstanding: docs/records.md.)
      const Segment& cut = g_.packets[feed_[at].packet].seg;
      for (Fed& f : feed_) {
        const Segment& s = g_.packets[f.packet].seg;
        if (s.flow == cut.flow && s.seq == cut.seq && s.payload_len == cut.payload_len) {
          f.captured = std::min(f.captured, keep);
        }
      }
    }
  }
  void Snaplen() {
    // A snaplen over the whole capture, between a few bytes and most of the largest segment.
    uint32_t largest = 1;
    for (const Fed& f : feed_) largest = std::max(largest, f.captured);
    const auto snaplen = static_cast<uint32_t>(Uniform(4, std::max<size_t>(4, largest * 3 / 4)));
    for (size_t i = 0; i < feed_.size(); ++i) {
      if (Mutable(i)) feed_[i].captured = std::min(feed_[i].captured, snaplen);
    }
  }
  void DropAcks(size_t n) {
    for (size_t k = 0; k < n; ++k) {
      const size_t at = Pick([&](size_t i) { return Mutable(i) && PureAck(i); });
      if (at != SIZE_MAX) feed_.erase(feed_.begin() + static_cast<ptrdiff_t>(at));
    }
  }

  const GroundTruth& g_;
  std::mt19937_64 rng_;
  std::vector<Fed> feed_;
  std::set<uint32_t> fixed_;
};

bool ReorderOnly(Kind k) {
  return k == Kind::kSwap || k == Kind::kDuplicate || k == Kind::kDropAcks;
}

// Runs `per_kind` mutants of every kind on one capture.
void RunMutants(const std::string& rel, const std::string& path, uint16_t port, int per_kind) {
  const GroundTruth g = Analyse(rel, path, port);
  ASSERT_FALSE(g.clean.records.empty());
  SaveMutant(g, Unmodified(g.packets), rel + " unmodified");  // what the mutants come from
  int failed = 0;
  for (int kind = 0; kind < kKinds; ++kind) {
    for (int n = 0; n < per_kind; ++n) {
      const uint64_t seed = static_cast<uint64_t>(kind) * 1000 + static_cast<uint64_t>(n);
      Mutator mutator(g, seed);
      const Kind k = static_cast<Kind>(kind);
      if (!Check(g, mutator.Apply(k), absl::StrCat(rel, ": ", KindName(k), ", seed ", seed),
                 ReorderOnly(k))) {
        ++failed;
      }
      // A few failing mutants say enough; the rest would bury them.
      ASSERT_LT(failed, 10) << "stopped after 10 failing mutants";
    }
  }
}

void RunMutants(const std::string& rel, int per_kind) {
  RunMutants(rel, DataPath(rel), 6379, per_kind);
}

TEST(CaptureMutationTest, RedisBenchmarkOneCommandPerConnection) {
  RunMutants("tcpdump/resp_1_benchmark.pcap", 60);
}

TEST(CaptureMutationTest, PubSub) { RunMutants("zeek/pubsub.pcap", 100); }

TEST(CaptureMutationTest, DjangoCache) { RunMutants("spicy-redis/django-cache.pcap", 30); }

TEST(CaptureMutationTest, LargeRequestsAndReplies) {
  RunMutants("zeek/large-requests-responses.pcap", 20);
}

// Pipelined traffic, captured from a throwaway redis-server: a client that sends a pipeline
// of transactions and values longer than --max-value-bytes each round trip, one that writes
// command after command without waiting for replies, and redis-benchmark with 16 commands
// per round trip (lists read back 100 elements at a time).
// Mutants of each kind made of the live capture; the others' counts are in their tests. Each
// capture takes its time: together they run in a few seconds.
constexpr int kLivePerKind = 15;

TEST(CaptureMutationTest, LivePipelinedTraffic) {
  // RESPTRACE_LIVE_CAPTURE=FILE:PORT runs on a capture this test saved before (see
  // RESPTRACE_MUTANT_DIR) instead of a new one: each live capture differs.
  if (const char* saved = std::getenv("RESPTRACE_LIVE_CAPTURE")) {
    const std::string spec = saved;
    const size_t colon = spec.rfind(':');
    ASSERT_NE(colon, std::string::npos) << "RESPTRACE_LIVE_CAPTURE=FILE:PORT";
    RunMutants("live pipelined", spec.substr(0, colon),
               static_cast<uint16_t>(std::stoi(spec.substr(colon + 1))), kLivePerKind);
    return;
  }
  live::RedisServer server;
  live::TempDir dir;
  const std::string pcap = dir.path() + "/pipelined.pcap";
  {
    live::PacketCapture capture(server.port(), pcap);
    {
      live::RawConnection rounds(server.port());
      const std::string value(700, 'v');
      for (int i = 1; i <= 30; ++i) {
        const std::string key = absl::StrCat("k:", i);
        rounds.Send(live::EncodeCommand({"SET", key, value}) + live::EncodeCommand({"MULTI"}) +
                    live::EncodeCommand({"INCR", "counter"}) + live::EncodeCommand({"GET", key}) +
                    live::EncodeCommand({"EXEC"}) + live::EncodeCommand({"HSET", "h", key, "x"}) +
                    live::EncodeCommand({"HLEN", "h"}) + live::EncodeCommand({"PING"}));
        const std::string replies =
            absl::StrCat("+OK\r\n+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n:", i, "\r\n$700\r\n", value,
                         "\r\n:1\r\n:", i, "\r\n+PONG\r\n");
        ASSERT_EQ(rounds.ReadExactly(replies.size()), replies);
      }
      live::RawConnection stream(server.port());
      std::string replies;
      for (int i = 0; i < 100; ++i) {
        const std::string key = absl::StrCat("p:", i / 2 % 10);
        const std::string value(static_cast<size_t>(1 + i / 2 * 37 % 900),
                                static_cast<char>('a' + i / 2 % 26));
        if (i % 2 == 0) {
          stream.Send(live::EncodeCommand({"SET", key, value}));
          replies += "+OK\r\n";
        } else {
          stream.Send(live::EncodeCommand({"GET", key}));
          absl::StrAppend(&replies, "$", value.size(), "\r\n", value, "\r\n");
        }
      }
      ASSERT_EQ(stream.ReadExactly(replies.size()), replies);
    }
    for (const char* tests : {"set,get", "lpush,lrange_100"}) {
      const live::ProcessResult r =
          live::RunProcess({"redis-benchmark", "-p", std::to_string(server.port()), "-n", "320",
                            "-c", "2", "-P", "16", "-d", "50", "-t", tests, "-q"});
      ASSERT_EQ(r.exit_status, 0) << r.err;
    }
    size_t connections = 0;
    capture.WaitFor(
        [&](const std::vector<live::TcpPacket>& packets) {
          connections = live::ClientPorts(packets, server.port()).size();
          return live::ConnectionsClosed(packets, server.port(), connections);
        },
        "every connection closed");
    ASSERT_EQ(capture.Stop().dropped_by_kernel, 0u);
  }
  RunMutants("live pipelined", pcap, server.port(), kLivePerKind);
}

}  // namespace
}  // namespace resptrace

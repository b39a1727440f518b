#include "resptrace/collector.h"

#include <algorithm>
#include <string>
#include <utility>

namespace resptrace {
namespace {

// Hands one direction's reassembled bytes to its parser, and the gaps that lose more than
// a value's bytes to the session's records as well (a value that lost bytes says so itself).
template <typename Parser>
class ParserFeed final : public StreamConsumer {
 public:
  ParserFeed(Parser* parser, Session* session, bool requests)
      : parser_(parser), session_(session), requests_(requests) {}
  void OnData(std::string_view bytes, int64_t ts_ns, std::optional<uint32_t> ack) override {
    last_data_ts_ns = ts_ns;
    // A request is placed by what its client had when it sent it: the acknowledgement of
    // the segment that carried it, which bytes held out of order keep until delivered.
    if (requests_) session_->SetRequestAck(ack);
    parser_->Feed(bytes, ts_ns);
  }
  void OnGap(uint64_t bytes, int64_t ts_ns) override {
    if (!parser_->GapFitsInBulk(bytes)) session_->WriteGap(requests_, bytes, ts_ns);
    parser_->OnGap(bytes, ts_ns);
  }

  int64_t last_data_ts_ns = 0;  // capture time of the last bytes delivered

 private:
  Parser* parser_;
  Session* session_;
  bool requests_;
};

constexpr int64_t kExpiryCheckEveryNs = 1'000'000'000;
// Segments held back for bytes captured out of order: at most this many per connection,
// for at most this long. A capture reorders segments by microseconds.
constexpr size_t kMaxHeld = 8;
constexpr int64_t kMaxHoldNs = 1'000'000'000;
// A closed connection's 4-tuple is not used again while the side that closed first waits
// in TIME_WAIT (60 s on Linux): a segment of it that comes in that time is a late one.
// At most kMaxClosed are remembered.
constexpr int64_t kTimeWaitNs = 60'000'000'000;
constexpr size_t kMaxClosed = 1 << 16;
// How far before the end of what a closed connection's side sent a late segment of it may
// start: more than a receive window (Linux's largest by default is 6 MiB). A new
// connection's random initial sequence number falls in it once in 256.
constexpr uint32_t kLateWindow = 16 << 20;

// A place in a list threaded through its elements: moving one to the back is a few pointer
// writes, with no allocation and no search.
template <typename T>
struct Hook {
  T* prev = nullptr;
  T* next = nullptr;
  bool linked = false;
};

template <typename Ends, typename T>
void Unlink(Ends& list, Hook<T> T::*hook, T& x) {
  Hook<T>& h = x.*hook;
  if (!h.linked) return;
  (h.prev != nullptr ? (h.prev->*hook).next : list.front) = h.next;
  (h.next != nullptr ? (h.next->*hook).prev : list.back) = h.prev;
  h = Hook<T>{};
}

template <typename Ends, typename T>
void PushBack(Ends& list, Hook<T> T::*hook, T& x) {
  Hook<T>& h = x.*hook;
  h.prev = list.back;
  h.next = nullptr;
  h.linked = true;
  (list.back != nullptr ? (list.back->*hook).next : list.front) = &x;
  list.back = &x;
}

// The parsers hold no more of a simple string or an error split across segments than the
// records print of it, and no less than the session reads of one: an error's prefix and a
// MONITOR line's timestamp.
RespLimits ParserLimits(const CollectorOptions& o) {
  constexpr uint64_t kSessionReads = 64;
  const MessageLimits& m = o.session.message;
  RespLimits limits = o.resp;
  const uint64_t printed = !m.keep_values            ? 0
                           : m.max_value_bytes == 0 ? UINT32_MAX
                                                    : m.max_value_bytes;
  limits.max_kept_line = static_cast<uint32_t>(std::min<uint64_t>(
      limits.max_kept_line, std::max(printed, kSessionReads)));
  return limits;
}

}  // namespace

// A segment held back (see Collector::Waits).
struct Collector::Held {
  Segment seg;          // its payload is `payload`, set when applied
  std::string payload;  // a copy: the capture's buffer is gone by then
  bool from_client;
};

struct Collector::Connection {
  Connection(const CollectorOptions& o, const RespLimits& resp, const Endpoint& c,
             const Endpoint& s, RecordSink* sink, CollectorCounters* counters)
      : client(c),
        server(s),
        // The collector bounds the bytes held, over both directions and every connection.
        to_server(ReassemblerLimits{.max_buffered_bytes = UINT64_MAX}, &counters->reassembly),
        to_client(ReassemblerLimits{.max_buffered_bytes = UINT64_MAX}, &counters->reassembly),
        session(o.session, c, s, sink, &counters->session),
        request_parser(RespRole::kRequest, resp, session.request_handler()),
        reply_parser(RespRole::kReply, resp, session.reply_handler()),
        request_feed(&request_parser, &session, true),
        reply_feed(&reply_parser, &session, false) {
    session.set_request_parser(&request_parser);
    session.set_reply_parser(&reply_parser);
  }

  // The capture starts inside the connection: both streams start at their first safe
  // boundary, and the session pairs nothing until it is proven in step.
  void JoinMidStream() {
    request_parser.StartMidStream();
    reply_parser.StartMidStream();
    session.JoinMidStream();
  }

  // Once the first client bytes reached the parser, ties its stream positions to the
  // client's sequence numbers.
  void NoteRequestSeqBase() {
    if (request_seq_base_known || request_parser.consumed() == 0) return;
    session.SetRequestSeqBase(to_server.next_seq() - static_cast<uint32_t>(request_parser.consumed()));
    request_seq_base_known = true;
  }

  // What both directions hold now: out of order, of lines split across segments, and of
  // segments held back.
  uint64_t HeldBytes() const {
    return to_server.held_bytes() + to_client.held_bytes() + request_parser.held_bytes() +
           reply_parser.held_bytes() + held_segment_bytes;
  }

  Endpoint client;
  Endpoint server;
  Reassembler to_server;
  Reassembler to_client;
  Session session;
  Session::RequestParser request_parser;
  Session::ReplyParser reply_parser;
  ParserFeed<Session::RequestParser> request_feed;
  ParserFeed<Session::ReplyParser> reply_feed;
  CopyFilter to_server_copies;
  CopyFilter to_client_copies;
  uint64_t id = 0;  // creation order, so that end-of-input reports come out in a stable order
  int64_t last_ts_ns = 0;
  uint64_t held = 0;  // HeldBytes() as the totals last took it
  Hook<Connection> by_activity;
  Hook<Connection> holding;
  bool handshake_seen = false;
  bool client_fin = false;
  bool server_fin = false;
  bool reset = false;
  bool request_seq_base_known = false;
  // Segments held back, in the order they came: each acknowledges bytes of the other
  // direction that the capture has not had yet.
  // (A vector: empty, it allocates nothing, unlike a deque; it holds kMaxHeld at most.)
  std::vector<Held> held_segments;
  uint64_t held_segment_bytes = 0;  // their payloads and bookkeeping
};

Collector::Collector(const CollectorOptions& options, RecordSink* sink)
    : options_(options),
      resp_limits_(ParserLimits(options)),
      sink_(sink),
      server_port_(65536, false) {
  for (uint16_t p : options_.server_ports) server_port_[p] = true;
}

Collector::~Collector() = default;

bool Collector::IsServerPort(uint16_t port) const { return server_port_[port]; }

Collector::CanonicalKey Collector::Canonical(const FlowKey& k) {
  // Any total order will do: it only has to put both directions under one key.
  const auto src = k.src.addr.Words();
  const auto dst = k.dst.addr.Words();
  const bool src_first = src < dst || (src == dst && k.src.port <= k.dst.port);
  const auto pack = [](const Endpoint& a, const Endpoint& b) {
    return uint64_t{a.port} | uint64_t{b.port} << 16 | uint64_t{a.addr.is_v6} << 32 |
           uint64_t{b.addr.is_v6} << 33;
  };
  return src_first ? CanonicalKey{src.first, src.second, dst.first, dst.second, pack(k.src, k.dst)}
                   : CanonicalKey{dst.first, dst.second, src.first, src.second, pack(k.dst, k.src)};
}

Collector::Connection* Collector::Lookup(const Segment& seg, const CanonicalKey& key,
                                         bool* from_client) {
  auto it = connections_.find(key);
  if (it != connections_.end()) {
    *from_client = seg.flow.src == it->second->client;
    return it->second.get();
  }
  if (seg.has(tcp_flags::kSyn)) {
    closed_.erase(key);  // its 4-tuple, used again
  } else if (const auto it = closed_.find(key); it != closed_.end()) {
    if (IsLate(it->second, seg)) {
      // A retransmission or a copy that came after the connection closed: no connection
      // joined mid-stream.
      if (seg.payload_len != 0) ++counters_.reassembly.retransmitted;
      return nullptr;
    }
    // A bare ACK says nothing of the 4-tuple's use: the last ACK of a close is one past
    // the FIN, and late copies may still follow it.
    if (seg.payload_len == 0) return nullptr;
    closed_.erase(it);  // its 4-tuple used again, the handshake not captured
  }
  if (seg.payload_len == 0 && !seg.has(tcp_flags::kSyn)) {
    return nullptr;  // a bare ACK or a stray FIN/RST starts nothing
  }

  const bool src_port = IsServerPort(seg.flow.src.port);
  const bool dst_port = IsServerPort(seg.flow.dst.port);
  bool src_is_client;
  if (src_port != dst_port) {
    src_is_client = dst_port;
  } else if (seg.has(tcp_flags::kSyn)) {
    src_is_client = !seg.has(tcp_flags::kAck);
  } else {
    src_is_client = true;  // no handshake to go by: clients speak first
  }
  if (connections_.size() >= options_.max_flows && by_activity_.front != nullptr) {
    ++counters_.evictions;
    Close(*by_activity_.front, NoReply::kEvicted);
  }
  const Endpoint& client = src_is_client ? seg.flow.src : seg.flow.dst;
  const Endpoint& server = src_is_client ? seg.flow.dst : seg.flow.src;
  auto conn =
      std::make_unique<Connection>(options_, resp_limits_, client, server, sink_, &counters_);
  Connection* c = conn.get();
  c->id = counters_.flows++;
  // A SYN or SYN-ACK starts the streams at their beginning; anything else joins them.
  if (seg.has(tcp_flags::kSyn)) {
    c->handshake_seen = true;
  } else {
    c->JoinMidStream();
  }
  connections_.emplace(key, std::move(conn));
  PushBack(by_activity_, &Connection::by_activity, *c);
  *from_client = src_is_client;
  return c;
}

void Collector::Touch(Connection& c) {
  if (by_activity_.back == &c) return;
  Unlink(by_activity_, &Connection::by_activity, c);
  PushBack(by_activity_, &Connection::by_activity, c);
  if (c.holding.linked) {
    Unlink(holding_, &Connection::holding, c);
    PushBack(holding_, &Connection::holding, c);
  }
}

void Collector::Account(Connection& c) {
  const uint64_t held = c.HeldBytes();
  held_bytes_ = held_bytes_ - c.held + held;
  c.held = held;
  if (held == 0) {
    Unlink(holding_, &Connection::holding, c);
  } else if (!c.holding.linked) {
    PushBack(holding_, &Connection::holding, c);  // none was touched since c
  }
}

void Collector::GiveUpOldest(Connection& c) {
  if (!c.held_segments.empty()) {
    ReleaseOldest(c);  // what it waits for, lost
    Account(c);
    return;
  }
  Reassembler& more =
      c.to_server.held_bytes() >= c.to_client.held_bytes() ? c.to_server : c.to_client;
  if (more.held_bytes() != 0) {
    if (&more == &c.to_server) {
      more.ShedOldestHole(c.last_ts_ns, c.request_feed);
      c.NoteRequestSeqBase();
    } else {
      more.ShedOldestHole(c.last_ts_ns, c.reply_feed);
    }
  } else {
    c.request_parser.DropHeldLine(c.last_ts_ns);
    c.reply_parser.DropHeldLine(c.last_ts_ns);
  }
  Account(c);
}

void Collector::Hold(Connection& c) {
  Account(c);
  if (c.held > options_.max_flow_bytes) {
    ++counters_.flow_bytes_hits;
    while (c.held > options_.max_flow_bytes) GiveUpOldest(c);
  }
  while (held_bytes_ > options_.max_buffered_bytes) {
    // Those that waited longest give up first; c, just touched, is the last to.
    Connection& oldest = *holding_.front;
    ++counters_.total_bytes_hits;
    if (&oldest != &c) {
      while (oldest.held != 0) GiveUpOldest(oldest);
      CloseIfEnded(oldest);  // segments it held back may have ended it
    } else {
      while (held_bytes_ > options_.max_buffered_bytes) GiveUpOldest(c);
    }
  }
}

void Collector::OnSegment(const Segment& seg) {
  ++counters_.segments;
  if (seg.ts_ns - last_expiry_check_ns_ >= kExpiryCheckEveryNs) {
    ExpireIdle(seg.ts_ns);
    last_expiry_check_ns_ = seg.ts_ns;
  }
  if (!IsServerPort(seg.flow.src.port) && !IsServerPort(seg.flow.dst.port)) {
    ++counters_.ignored_segments;
    return;
  }
  const CanonicalKey key = Canonical(seg.flow);
  bool from_client = false;
  Connection* c = Lookup(seg, key, &from_client);
  if (c == nullptr) return;
  if ((from_client ? c->to_server_copies : c->to_client_copies).IsCopy(seg)) {
    ++counters_.second_interface_copies;
    return;
  }
  c->last_ts_ns = seg.ts_ns;
  Touch(*c);
  // Past kMaxHeld segments, or kMaxHoldNs, the oldest held segment goes, what it waits for
  // lost.
  while (!c->held_segments.empty() &&
         (c->held_segments.size() >= kMaxHeld ||
          seg.ts_ns - c->held_segments.front().seg.ts_ns >= kMaxHoldNs)) {
    ReleaseOldest(*c);
  }
  if (Waits(*c, seg, from_client)) {
    HoldBack(*c, seg, from_client);
  } else {
    Apply(*c, seg, from_client);
    // It may carry bytes that held segments acknowledged.
    if (!c->held_segments.empty()) ReleaseHeld(*c, false);
  }
  // Most segments leave nothing held, before or after: one test of two words.
  if ((c->held | c->HeldBytes()) != 0) Hold(*c);
  CloseIfEnded(*c);
}

bool Collector::CloseIfEnded(Connection& c) {
  if (c.reset) {
    ++counters_.closed_rst;
    Close(c, NoReply::kReset);
  } else if (c.client_fin && c.server_fin) {
    ++counters_.closed_fin;
    Close(c, NoReply::kClosed);
  } else {
    return false;
  }
  return true;
}

bool Collector::Waits(const Connection& c, const Segment& seg, bool from_client) {
  // A reset ends the connection, whatever came before it.
  return seg.has(tcp_flags::kAck) && !seg.has(tcp_flags::kRst) &&
         (from_client ? c.to_client : c.to_server).Lacks(seg.ack);
}

void Collector::HoldBack(Connection& c, const Segment& seg, bool from_client) {
  Held& h = c.held_segments.emplace_back(Held{seg, std::string(seg.payload), from_client});
  h.seg.payload = {};
  c.held_segment_bytes += sizeof(Held) + h.payload.size();
}

void Collector::ApplyHeld(Connection& c, const Held& h) {
  c.held_segment_bytes -= sizeof(Held) + h.payload.size();
  Segment seg = h.seg;
  seg.payload = h.payload;
  Apply(c, seg, h.from_client);
}

void Collector::ReleaseHeld(Connection& c, bool all) {
  // Acknowledgements order the segments: one goes once what it acknowledges is in, and with
  // `all`, when every one left waits, the oldest goes, what it waits for lost.
  while (!c.held_segments.empty()) {
    bool applied = false;
    for (auto it = c.held_segments.begin(); it != c.held_segments.end();) {
      if (Waits(c, it->seg, it->from_client)) {
        ++it;
        continue;
      }
      ApplyHeld(c, *it);
      it = c.held_segments.erase(it);
      applied = true;
    }
    if (applied) continue;
    if (!all) return;
    GiveUpOne(c);
  }
}

size_t Collector::Stuck(const Connection& c) {
  const std::vector<Held>& held = c.held_segments;
  for (size_t i = 0; i < held.size(); ++i) {
    const Reassembler& lacking = held[i].from_client ? c.to_client : c.to_server;
    const uint32_t next = lacking.next_seq();
    const auto carries_next = [&](const Held& h) {
      const auto start = static_cast<int32_t>(h.seg.seq - next);
      return h.from_client != held[i].from_client && start <= 0 &&
             start + static_cast<int64_t>(h.payload.size()) > 0;
    };
    if (std::none_of(held.begin(), held.end(), carries_next)) return i;
  }
  return 0;
}

void Collector::GiveUpOne(Connection& c) {
  const auto it = c.held_segments.begin() + static_cast<std::ptrdiff_t>(Stuck(c));
  ApplyHeld(c, *it);
  c.held_segments.erase(it);
}

void Collector::ReleaseOldest(Connection& c) {
  GiveUpOne(c);
  ReleaseHeld(c, false);
}

// Inlined: it runs once per segment, and called out of line it cost 50 instructions each.
[[gnu::always_inline]] inline void Collector::Apply(Connection& c, const Segment& seg,
                                                    bool from_client) {
  const bool has_ack = seg.has(tcp_flags::kAck);
  if (from_client) {
    // The client acknowledging server bytes the capture never had turns them into a gap.
    if (has_ack) {
      if (c.session.decoding()) c.to_client.OnPeerAck(seg.ack, seg.ts_ns, c.reply_feed);
      c.session.SetRequestAck(seg.ack);
    }
    // The requests this segment completes are placed in the client's sequence space as
    // they are parsed.
    if (!c.request_seq_base_known) c.session.SetRequestSeqBase(c.to_server.OffsetZeroSeq(seg));
    if (c.session.decoding()) c.to_server.Push(seg, c.request_feed);
    c.NoteRequestSeqBase();
    if (seg.has(tcp_flags::kFin)) {
      c.client_fin = true;
      c.session.NoteFin(true);
    }
  } else {
    if (has_ack) {
      if (c.session.decoding()) c.to_server.OnPeerAck(seg.ack, seg.ts_ns, c.request_feed);
      c.NoteRequestSeqBase();
      // Joined mid-stream, the first replies may answer requests the capture never had.
      // With the handshake seen every request was seen, and the check is moot.
      if (!c.handshake_seen) c.session.SetReplyAck(seg.ack);
      const bool fin = seg.has(tcp_flags::kFin);
      if (seg.payload_len != 0 || fin) {
        c.session.NoteServerData(seg.ack, seg.seq, seg.seq + seg.payload_len + (fin ? 1 : 0));
      }
    }
    if (c.session.decoding()) c.to_client.Push(seg, c.reply_feed);
    if (seg.has(tcp_flags::kFin)) {
      c.server_fin = true;
      c.session.NoteFin(false);
    }
  }
  if (seg.has(tcp_flags::kRst)) c.reset = true;
}

void Collector::Tick(int64_t now_ns) {
  if (now_ns - last_expiry_check_ns_ < kExpiryCheckEveryNs) return;
  ExpireIdle(now_ns);
  last_expiry_check_ns_ = now_ns;
}

void Collector::End(Connection& c, NoReply why) {
  ReleaseHeld(c, true);
  c.to_server.Flush(c.last_ts_ns, c.request_feed);
  c.to_client.Flush(c.last_ts_ns, c.reply_feed);
  const auto settle = [&](auto& parser, const auto& feed) {
    // Bytes skipped while resynchronising were counted with the error that caused it.
    if (parser.at_boundary() || parser.resyncing()) return;
    ++counters_.cut_messages;
    // A value cut short by the end of the stream is still that value, with bytes missing.
    if (const uint64_t missing = parser.BytesToComplete(); missing != 0) {
      c.session.set_cutting_short(true);
      parser.OnGap(missing, feed.last_data_ts_ns);
      c.session.set_cutting_short(false);
    }
  };
  if (c.session.decoding()) {
    settle(c.request_parser, c.request_feed);
    settle(c.reply_parser, c.reply_feed);
  }
  c.session.Close(why);
}

void Collector::Close(Connection& c, NoReply why) {
  End(c, why);
  held_bytes_ -= c.held;
  Unlink(holding_, &Connection::holding, c);
  Unlink(by_activity_, &Connection::by_activity, c);
  const CanonicalKey key = Canonical(FlowKey{c.client, c.server});
  Closed closed;
  closed.ts_ns = c.last_ts_ns;
  closed.client = c.client;
  const Reassembler* sent[2] = {&c.to_server, &c.to_client};
  for (int d = 0; d < 2; ++d) {
    closed.known[d] = sent[d]->started();
    closed.end[d] = sent[d]->next_seq();
  }
  connections_.erase(key);
  if (why != NoReply::kClosed && why != NoReply::kReset) return;
  // Both ends closed it, or one reset it: a segment of it that comes now is a late one.
  closed_[key] = closed;
  closed_order_.emplace_back(closed.ts_ns, key);
  ForgetClosedBefore(closed.ts_ns - kTimeWaitNs);
}

bool Collector::IsLate(const Closed& closed, const Segment& seg) {
  const int d = seg.flow.src == closed.client ? 0 : 1;
  // Nothing known of what that side sent: any segment of the 4-tuple is taken for late.
  if (!closed.known[d]) return true;
  // 0: a copy of its FIN, which takes the sequence number at the end.
  return closed.end[d] - seg.seq < kLateWindow;
}

void Collector::ForgetClosedBefore(int64_t limit_ns) {
  while (!closed_order_.empty() &&
         (closed_order_.front().first < limit_ns || closed_order_.size() > kMaxClosed)) {
    const auto& [ts, key] = closed_order_.front();
    // Unless it closed again since.
    if (auto it = closed_.find(key); it != closed_.end() && it->second.ts_ns == ts) closed_.erase(it);
    closed_order_.pop_front();
  }
}

void Collector::EndWhere(bool (*pred)(const Connection&, int64_t), int64_t now_ns, NoReply why) {
  std::vector<std::pair<uint64_t, CanonicalKey>> ending;
  for (const auto& [key, conn] : connections_) {
    if (pred(*conn, now_ns)) ending.emplace_back(conn->id, key);
  }
  std::sort(ending.begin(), ending.end(),
            [](const auto& x, const auto& y) { return x.first < y.first; });
  for (const auto& [id, key] : ending) Close(*connections_.find(key)->second, why);
  if (why == NoReply::kIdleTimeout) counters_.idle_timeouts += ending.size();
}

void Collector::ExpireIdle(int64_t now_ns) {
  // What segments held back since over kMaxHoldNs wait for is lost: the gap comes now, not
  // with the connection's next segment.
  std::vector<std::pair<uint64_t, CanonicalKey>> due;
  for (const auto& [key, conn] : connections_) {
    if (!conn->held_segments.empty() &&
        now_ns - conn->held_segments.front().seg.ts_ns >= kMaxHoldNs) {
      due.emplace_back(conn->id, key);
    }
  }
  std::sort(due.begin(), due.end(), [](const auto& x, const auto& y) { return x.first < y.first; });
  for (const auto& [id, key] : due) {
    const auto it = connections_.find(key);
    if (it == connections_.end()) continue;  // closed while another gave up what it held
    Connection& c = *it->second;
    ReleaseHeld(c, true);
    Hold(c);
    CloseIfEnded(c);
  }
  ForgetClosedBefore(now_ns - kTimeWaitNs);
  const int64_t timeout = options_.idle_timeout_ns;
  if (timeout <= 0) return;
  EndWhere([](const Connection& c, int64_t limit) { return c.last_ts_ns < limit; },
           now_ns - timeout, NoReply::kIdleTimeout);
}

void Collector::Finish() {
  EndWhere([](const Connection&, int64_t) { return true; }, 0, NoReply::kEndOfCapture);
}

}  // namespace resptrace

// The collector core: takes TCP segments from any source and turns them into records.
// Owns the flow table; per connection, two reassemblers, two RESP parsers and a session.
#ifndef RESPTRACE_COLLECTOR_H_
#define RESPTRACE_COLLECTOR_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "resptrace/copy_filter.h"
#include "resptrace/reassembler.h"
#include "resptrace/record.h"
#include "resptrace/resp_parser.h"
#include "resptrace/segment.h"
#include "resptrace/session.h"

namespace resptrace {

struct CollectorOptions {
  std::vector<uint16_t> server_ports = {6379};
  RespLimits resp;
  SessionOptions session;
  int64_t idle_timeout_ns = 300'000'000'000;  // a connection silent this long is closed
  // Connections tracked at once; a new one ends the least recently active (--max-flows).
  uint64_t max_flows = 100'000;
  // Bytes one connection holds: out of order, both ways, and lines split across segments
  // (--max-flow-bytes). Past it, its oldest holes are given up as gaps, then its lines.
  uint64_t max_flow_bytes = 4 << 20;
  // The same, over every connection (--max-buffered-bytes). Past it, the least recently
  // active connections holding bytes give them up as gaps.
  uint64_t max_buffered_bytes = 256 << 20;
};

struct CollectorCounters {
  uint64_t segments = 0;          // segments offered
  uint64_t ignored_segments = 0;  // not to or from a server port
  // Copies of a segment captured on a second interface, dropped (see CopyFilter).
  uint64_t second_interface_copies = 0;
  uint64_t flows = 0;             // connections tracked
  uint64_t closed_fin = 0;
  uint64_t closed_rst = 0;
  uint64_t idle_timeouts = 0;
  uint64_t cut_messages = 0;      // directions that ended inside a message or a resync
  uint64_t evictions = 0;         // connections ended for a new one past max_flows
  uint64_t flow_bytes_hits = 0;   // times a connection went past max_flow_bytes
  uint64_t total_bytes_hits = 0;  // connections that gave up what they held past
                                  // max_buffered_bytes
  ReassemblyCounters reassembly;  // summed over every direction of every connection
  SessionCounters session;        // summed over every connection
};

class Collector {
 public:
  Collector(const CollectorOptions& options, RecordSink* sink);
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  void OnSegment(const Segment& seg);
  // The time is `now_ns` though no segment came (a live capture's clock): connections idle
  // past the timeout are closed. Cheap to call often; expiry runs at most once a second.
  void Tick(int64_t now_ns);
  // End of input: every connection is settled and its waiting commands reported.
  void Finish();

  const CollectorCounters& counters() const { return counters_; }
  size_t active_connections() const { return connections_.size(); }
  // Bytes the connections hold (see CollectorOptions::max_flow_bytes), all together.
  uint64_t held_bytes() const { return held_bytes_; }

 private:
  struct Connection;
  struct Held;
  // A connection that closed lately, for telling its late segments from a new connection's.
  struct Closed {
    int64_t ts_ns = 0;  // when it closed
    Endpoint client;
    uint32_t end[2] = {0, 0};        // past the last byte the client [0] and the server [1] sent
    bool known[2] = {false, false};  // whether that direction sent any byte the capture had
  };
  // A segment on the 4-tuple of `closed` is late (a retransmission or a copy) unless it
  // starts past the end of what its sender had sent: then it is a new connection's.
  static bool IsLate(const Closed& closed, const Segment& seg);
  // The ends of a list threaded through the connections (collector.cc).
  struct ListEnds {
    Connection* front = nullptr;
    Connection* back = nullptr;
  };
  // The flow table's key: the 4-tuple with the lower endpoint first, so that both
  // directions of a connection find the same entry with one lookup. Packed into machine
  // words, looked up once per segment: comparing it is five word compares. Hashing folds
  // the words with two independent 64x64->128-bit multiplies (as wyhash does) into one
  // word for absl's seeded mix: one multiply's latency plus one mix, where mixing each
  // field in turn took eight.
  struct CanonicalKey {
    uint64_t a0, a1;  // the lower endpoint's address words
    uint64_t b0, b1;  // the other's
    uint64_t ports;   // a's port, b's port, then a's and b's is_v6 bits
    friend bool operator==(const CanonicalKey&, const CanonicalKey&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const CanonicalKey& k) {
      const auto fold = [](uint64_t x, uint64_t y) {
        const unsigned __int128 p = static_cast<unsigned __int128>(x) * y;
        return static_cast<uint64_t>(p) ^ static_cast<uint64_t>(p >> 64);
      };
      // Odd constants with bits spread over both halves: an IPv4 word (high half zero)
      // or a zero word never makes a factor zero.
      const uint64_t folded = fold(k.a0 ^ 0xa0761d6478bd642full, k.b0 ^ 0xe7037ed1a0b428dbull) ^
                              fold(k.a1 ^ k.ports ^ 0x8ebc6af09c88c6e3ull,
                                   k.b1 ^ 0x589965cc75374cc3ull);
      return H::combine(std::move(h), folded);
    }
  };
  static CanonicalKey Canonical(const FlowKey& k);
  bool IsServerPort(uint16_t port) const;
  Connection* Lookup(const Segment& seg, const CanonicalKey& key, bool* from_client);
  // The connection is now the most recently active.
  void Touch(Connection& c);
  // What `c` holds changed, or `c` holds bytes; past a limit, bytes are given up.
  void Hold(Connection& c);
  // Takes `c`'s bytes held now into the totals and the list of connections holding any.
  void Account(Connection& c);
  // Gives up the oldest segment `c` holds back, or with none, the oldest hole of the
  // direction of `c` holding more, or with none held out of order, the lines it holds.
  void GiveUpOldest(Connection& c);
  // A segment that acknowledges bytes of the other direction that the capture has not had
  // waits for them: a capture can have them next (captured out of order), and they are
  // applied first (bytes, not a gap; a request before its reply). It is held back, for
  // kMaxHeld segments of the connection or kMaxHoldNs at most (then they were lost); one
  // that waits for nothing is applied at once, and so are the held ones it satisfies.
  static bool Waits(const Connection& c, const Segment& seg, bool from_client);
  void HoldBack(Connection& c, const Segment& seg, bool from_client);
  void ApplyHeld(Connection& c, const Held& h);
  // Applies the segments held back that no longer wait, and with `all` the others too, each
  // once what it acknowledges is in or, when every one left waits, the oldest first.
  void ReleaseHeld(Connection& c, bool all);
  // Gives up one segment held back (GiveUpOne), then applies those no longer waiting.
  void ReleaseOldest(Connection& c);
  // Applies the held segment Stuck() names, what it waits for lost.
  void GiveUpOne(Connection& c);
  // The held segment to give up waiting first: the oldest whose missing bytes no held
  // segment carries (they were lost). Giving up one that waits for bytes held here, read
  // out of order, would report captured bytes as lost.
  static size_t Stuck(const Connection& c);
  // Feeds `seg` to the connection's reassemblers, parsers and session.
  void Apply(Connection& c, const Segment& seg, bool from_client);
  // Closes `c` if a reset or both FINs were applied; true when it did.
  bool CloseIfEnded(Connection& c);
  // Forgets the connections that closed before `limit_ns`, and the oldest past kMaxClosed.
  void ForgetClosedBefore(int64_t limit_ns);
  void End(Connection& c, NoReply why);
  // Ends `c` and forgets it; when both ends closed it (or one reset it), remembers that.
  void Close(Connection& c, NoReply why);
  void ExpireIdle(int64_t now_ns);
  // Ends, in creation order, every connection for which pred(connection, arg) holds.
  void EndWhere(bool (*pred)(const Connection&, int64_t), int64_t arg, NoReply why);

  CollectorOptions options_;
  RespLimits resp_limits_;  // options_.resp, holding no more of a line than is printed
  RecordSink* sink_;
  CollectorCounters counters_;
  std::vector<bool> server_port_;  // indexed by port
  absl::flat_hash_map<CanonicalKey, std::unique_ptr<Connection>> connections_;
  // Connections that closed lately (both FINs, or a reset), oldest first in closed_order_:
  // a segment of one that comes late starts no connection.
  absl::flat_hash_map<CanonicalKey, Closed> closed_;
  std::deque<std::pair<int64_t, CanonicalKey>> closed_order_;
  ListEnds by_activity_;  // every connection, the least recently active first
  ListEnds holding_;      // the connections holding bytes, in the same order
  uint64_t held_bytes_ = 0;
  int64_t last_expiry_check_ns_ = 0;
};

}  // namespace resptrace

#endif  // RESPTRACE_COLLECTOR_H_

// Test helper: the segments of one TCP connection, as a capture would have them, each
// side's sequence and acknowledgement numbers followed. Header-only.
#ifndef RESPTRACE_TESTS_TCP_CONVERSATION_H_
#define RESPTRACE_TESTS_TCP_CONVERSATION_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "resptrace/flow_key.h"
#include "resptrace/segment.h"

namespace resptrace::test {

class TcpConversation {
 public:
  TcpConversation(Endpoint client, Endpoint server, uint32_t client_isn = 1000,
                  uint32_t server_isn = 5000)
      : client_(client), server_(server), cseq_(client_isn), sseq_(server_isn) {}

  Segment Syn(int64_t ts) { return Make(true, tcp_flags::kSyn, "", ts, 1); }
  Segment SynAck(int64_t ts) { return Make(false, tcp_flags::kSyn | tcp_flags::kAck, "", ts, 1); }
  // Data (or none, with `extra` flags such as FIN), acknowledging all the peer sent so far.
  Segment FromClient(std::string_view data, int64_t ts, uint8_t extra = 0) {
    return Make(true, tcp_flags::kAck | tcp_flags::kPsh | extra, data, ts, 0);
  }
  Segment FromServer(std::string_view data, int64_t ts, uint8_t extra = 0) {
    return Make(false, tcp_flags::kAck | tcp_flags::kPsh | extra, data, ts, 0);
  }
  // A segment that the capture lost: its sequence space is used, nothing is returned.
  void LoseFromServer(size_t n) { sseq_ += static_cast<uint32_t>(n); }
  void LoseFromClient(size_t n) { cseq_ += static_cast<uint32_t>(n); }
  // Client bytes `ahead` past the next one expected, leaving a hole before them that the
  // client never fills.
  Segment ClientAhead(uint32_t ahead, std::string_view data, int64_t ts) {
    Segment s = FromClient(data, ts);
    s.seq += ahead;
    cseq_ -= static_cast<uint32_t>(data.size());
    return s;
  }

 private:
  Segment Make(bool from_client, uint8_t flags, std::string_view data, int64_t ts,
               uint32_t extra_seq) {
    Segment s;
    s.ts_ns = ts;
    s.flow = from_client ? FlowKey{client_, server_} : FlowKey{server_, client_};
    s.seq = from_client ? cseq_ : sseq_;
    s.ack = from_client ? sseq_ : cseq_;
    s.flags = flags;
    s.payload = data;
    s.payload_len = static_cast<uint32_t>(data.size());
    (from_client ? cseq_ : sseq_) += static_cast<uint32_t>(data.size()) + extra_seq +
                                     ((flags & tcp_flags::kFin) ? 1 : 0);
    return s;
  }

  Endpoint client_, server_;
  uint32_t cseq_, sseq_;
};

}  // namespace resptrace::test

#endif  // RESPTRACE_TESTS_TCP_CONVERSATION_H_

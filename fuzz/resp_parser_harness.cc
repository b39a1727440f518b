// Input: an options byte, then chunks, each a header byte (0x80: from the server, 0x40: a
// gap, 0x20: this side's acknowledgement lags the peer's last chunk), a 16-bit little-endian
// length, and that many bytes (none for a gap).
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "fuzz_harness.h"
#include "fuzz_input.h"
#include "record_checker.h"
#include "resptrace/resp_parser.h"
#include "resptrace/session.h"

namespace resptrace {
namespace {

// The options byte.
constexpr uint8_t kSmallLimits = 0x01;    // parser limits the input can reach
constexpr uint8_t kNoValues = 0x02;       // keep_values off and nothing printed: -o none
constexpr uint8_t kMidStream = 0x04;      // the capture joined the connection
constexpr uint8_t kSmallMessages = 0x08;  // few bytes, elements and nodes kept per message
constexpr uint8_t kByteAtATime = 0x10;    // also parse each stream one byte at a time
constexpr uint8_t kRedactValues = 0x20;   // --redact-values
constexpr uint8_t kFewPending = 0x40;     // a small --max-pending
constexpr uint8_t kClosed = 0x80;         // the connection closes rather than the capture ends

// The chunk header.
constexpr uint8_t kFromServer = 0x80;
constexpr uint8_t kGap = 0x40;
constexpr uint8_t kAckLags = 0x20;

struct Chunk {
  bool from_server;
  bool ack_lags;
  uint64_t gap;  // bytes missing, when not 0; else `bytes` arrived
  std::string_view bytes;
};

// Checks that the parser's events form well-nested messages, as resp_parser.h describes
// them, and writes them as a trace that does not depend on how the stream was cut.
class CheckingHandler final : public RespHandler {
 public:
  CheckingHandler(const RespLimits& limits, bool mid_stream)
      : limits_(limits), resync_pending_(mid_stream) {}

  void OnMessageBegin(int64_t, bool inline_command) override {
    if (in_message_) Fail("a message begins inside a message");
    if (resync_pending_) Fail("a message begins before the resync");
    in_message_ = true;
    top_done_ = false;
    open_.clear();
    trace_ += inline_command ? "<i" : "<";
  }
  void OnAggregate(RespType type, int64_t count) override {
    ValueStarts();
    if (count < 0) Fail(absl::StrCat("aggregate of ", count, " elements"));
    absl::StrAppend(&trace_, " A", static_cast<int>(type), ":", count);
    if (count <= 0) return ValueDone(type == RespType::kAttribute);
    open_.push_back(Open{count, type == RespType::kAttribute});
    if (open_.size() > limits_.max_depth) Fail(absl::StrCat("nested ", open_.size(), " deep"));
  }
  void OnScalar(const ScalarPiece& p) override {
    if (p.first) {
      ValueStarts();
      in_scalar_ = true;
      type_ = p.type;
      declared_ = p.declared_len;
      value_.clear();
      missing_ = 0;
    } else if (!in_scalar_ || p.type != type_ || p.declared_len != declared_) {
      Fail("a piece continues no value");
    }
    value_.append(p.data);
    missing_ += p.missing;
    if (!p.last) return;
    in_scalar_ = false;
    if (value_.size() + missing_ != static_cast<uint64_t>(declared_)) {
      Fail(absl::StrCat("a value of ", value_.size(), " + ", missing_, " missing bytes declared ",
                        declared_));
    }
    absl::StrAppend(&trace_, " S", static_cast<int>(type_), ":", declared_, ":", missing_, ":",
                    value_);
    ValueDone(false);
  }
  void OnMessageEnd(int64_t, uint64_t wire_bytes) override {
    if (!in_message_ || !top_done_ || in_scalar_) Fail("a message ends before its value");
    in_message_ = false;
    accounted_ += wire_bytes;
    absl::StrAppend(&trace_, " >", wire_bytes, "\n");
  }
  void OnProtocolError(RespError error, int64_t, uint64_t wire_bytes) override {
    // Bytes lost while the parser looks for a boundary are a gap of their own, outside any
    // message (RespHandler::OnProtocolError); any other error comes after a resync.
    if (resync_pending_ && !(error == RespError::kGap && wire_bytes == 0)) {
      Fail("two protocol errors without a resync");
    }
    resync_pending_ = true;
    in_message_ = in_scalar_ = false;
    accounted_ += wire_bytes;
    absl::StrAppend(&trace_, " !", std::string(RespErrorName(error)), ":", wire_bytes, "\n");
  }
  void OnResync(uint64_t skipped, int64_t) override {
    if (!resync_pending_) Fail("a resync without an error");
    resync_pending_ = false;
    accounted_ += skipped;
    absl::StrAppend(&trace_, " ~", skipped, "\n");
  }

  const std::string& trace() const { return trace_; }
  const std::string& failure() const { return failure_; }
  bool in_message() const { return in_message_; }
  // Bytes reported as messages, abandoned messages and skipped.
  uint64_t accounted() const { return accounted_; }

 private:
  struct Open {
    int64_t remaining;
    bool attribute;
  };
  void Fail(const std::string& why) {
    // The trace's end shows where.
    if (failure_.empty()) failure_ = why + " after: " + trace_.substr(trace_.size() > 300 ? trace_.size() - 300 : 0);
  }
  void ValueStarts() {
    if (!in_message_ || in_scalar_ || top_done_) Fail("a value outside a message's value");
  }
  // An attribute precedes the value it annotates and is no element of its parent.
  void ValueDone(bool was_attribute) {
    while (!open_.empty()) {
      if (was_attribute) return;
      if (--open_.back().remaining > 0) return;
      was_attribute = open_.back().attribute;
      open_.pop_back();
    }
    if (!was_attribute) top_done_ = true;
  }

  RespLimits limits_;
  std::string trace_;
  std::string failure_;
  std::vector<Open> open_;
  bool in_message_ = false;
  bool in_scalar_ = false;
  bool top_done_ = false;
  bool resync_pending_;
  RespType type_ = RespType::kNull;
  int64_t declared_ = 0;
  std::string value_;
  uint64_t missing_ = 0;
  uint64_t accounted_ = 0;
};

// Feeds `bytes` as a heap copy of its own, freed right after: a view the parser kept past
// the call is a use after free.
template <typename Parser>
void FeedCopy(Parser& parser, std::string_view bytes, int64_t ts) {
  auto copy = std::make_unique<char[]>(bytes.size());
  if (!bytes.empty()) std::memcpy(copy.get(), bytes.data(), bytes.size());
  parser.Feed(std::string_view(copy.get(), bytes.size()), ts);
}

// The chunks of `role`'s direction (requests come from the client) through a RespParser:
// the trace, or a broken promise.
absl::StatusOr<std::string> ParseChunks(RespRole role, const RespLimits& limits, bool mid_stream,
                                        const std::vector<Chunk>& chunks) {
  const bool from_server = role == RespRole::kReply;
  CheckingHandler h(limits, mid_stream);
  RespParser parser(role, limits, &h);
  if (mid_stream) parser.StartMidStream();
  int64_t ts = 0;
  for (const Chunk& c : chunks) {
    if (c.from_server != from_server) continue;
    if (c.gap != 0) {
      parser.OnGap(c.gap, ++ts);
    } else {
      FeedCopy(parser, c.bytes, ++ts);
    }
  }
  const std::string where = absl::StrCat(from_server ? "reply" : "request", " stream: ");
  if (parser.consumed() < h.accounted()) {
    return absl::InternalError(absl::StrCat(where, h.accounted(), " bytes reported of ",
                                            parser.consumed()));
  }
  // What the stream lacks of its last message, as missing bytes, completes it.
  if (const uint64_t missing = parser.BytesToComplete(); missing != 0) {
    parser.OnGap(missing, ++ts);
    if (!parser.at_boundary() || h.in_message()) {
      return absl::InternalError(absl::StrCat(where, "the ", missing,
                                              " bytes BytesToComplete named left the message open"));
    }
  }
  if (!h.failure().empty()) return absl::InternalError(where + h.failure());
  return h.trace();
}

// The same bytes, without the chunks' cuts: whole, or one byte at a time.
std::string ParseRecut(RespRole role, const RespLimits& limits, bool mid_stream,
                       std::string_view stream, bool byte_at_a_time) {
  CheckingHandler h(limits, mid_stream);
  RespParser parser(role, limits, &h);
  if (mid_stream) parser.StartMidStream();
  if (!byte_at_a_time) {
    FeedCopy(parser, stream, 1);
  } else {
    for (size_t i = 0; i < stream.size(); ++i) FeedCopy(parser, stream.substr(i, 1), 1);
  }
  if (const uint64_t missing = parser.BytesToComplete(); missing != 0) parser.OnGap(missing, 2);
  return h.trace();
}

absl::Status CheckRole(RespRole role, const RespLimits& limits, bool mid_stream,
                       bool byte_at_a_time, const std::vector<Chunk>& chunks) {
  const bool from_server = role == RespRole::kReply;
  absl::StatusOr<std::string> trace = ParseChunks(role, limits, mid_stream, chunks);
  if (!trace.ok()) return trace.status();
  std::string stream;
  for (const Chunk& c : chunks) {
    if (c.from_server != from_server) continue;
    if (c.gap != 0) return absl::OkStatus();  // a gap's place in the stream is the cut's
    stream.append(c.bytes);
  }
  for (bool bytes : {false, true}) {
    if (bytes && !byte_at_a_time) continue;
    if (ParseRecut(role, limits, mid_stream, stream, bytes) != *trace) {
      return absl::InternalError(absl::StrCat(
          from_server ? "reply" : "request", " stream parsed ", bytes ? "byte by byte" : "whole",
          " differs from the same bytes in chunks"));
    }
  }
  return absl::OkStatus();
}

// The chunks as a conversation: a Session with its two parsers, acknowledgements as the
// collector passes them (each side's covers what the peer sent so far).
absl::Status CheckSession(uint8_t options, const RespLimits& limits,
                          const std::vector<Chunk>& chunks) {
  SessionOptions so;
  so.message.keep_values = (options & kNoValues) == 0;
  if (options & kSmallMessages) {
    so.message.max_value_bytes = 3;
    so.message.max_elements = 3;
    so.message.max_nodes = 8;
  }
  if (options & kFewPending) so.max_pending = 3;
  RecordChecker sink(options & kRedactValues ? Redaction::kValues : Redaction::kSecrets,
                     /*ordered_ts=*/true, /*printed=*/so.message.keep_values);
  SessionCounters counters;
  Endpoint client{IpAddress::V4(reinterpret_cast<const uint8_t*>("\x0a\x00\x00\x01")), 50000};
  Endpoint server{IpAddress::V4(reinterpret_cast<const uint8_t*>("\x0a\x00\x00\x02")), 6379};
  Session session(so, client, server, &sink, &counters);
  Session::RequestParser requests(RespRole::kRequest, limits, session.request_handler());
  Session::ReplyParser replies(RespRole::kReply, limits, session.reply_handler());
  session.set_request_parser(&requests);
  session.set_reply_parser(&replies);
  const bool mid_stream = options & kMidStream;
  if (mid_stream) {
    requests.StartMidStream();
    replies.StartMidStream();
    session.JoinMidStream();
  }
  constexpr uint32_t kClientIsn = 1000;
  constexpr uint32_t kServerIsn = 0xfffff000;  // the server's sequence numbers wrap
  session.SetRequestSeqBase(kClientIsn);
  // Each side's stream position, before and after its last chunk.
  uint64_t client_end = 0, client_before = 0, server_end = 0, server_before = 0;
  int64_t ts = 0;
  for (const Chunk& c : chunks) {
    ++ts;
    const uint64_t len = c.gap != 0 ? c.gap : c.bytes.size();
    if (!c.from_server) {
      session.SetRequestAck(kServerIsn + static_cast<uint32_t>(c.ack_lags ? server_before : server_end));
      client_before = client_end;
      client_end += len;
      if (c.gap != 0) {
        requests.OnGap(c.gap, ts);
      } else {
        FeedCopy(requests, c.bytes, ts);
      }
    } else {
      const uint32_t ack = kClientIsn + static_cast<uint32_t>(c.ack_lags ? client_before : client_end);
      if (mid_stream) session.SetReplyAck(ack);
      server_before = server_end;
      server_end += len;
      if (len != 0) {
        session.NoteServerData(ack, kServerIsn + static_cast<uint32_t>(server_before),
                               kServerIsn + static_cast<uint32_t>(server_end));
      }
      if (c.gap != 0) {
        replies.OnGap(c.gap, ts);
      } else {
        FeedCopy(replies, c.bytes, ts);
      }
    }
  }
  // As the collector ends a connection: a value cut short is completed with missing bytes.
  const auto settle = [&](auto& parser) {
    if (parser.at_boundary() || parser.resyncing()) return;
    if (const uint64_t missing = parser.BytesToComplete(); missing != 0) {
      session.set_cutting_short(true);
      parser.OnGap(missing, ts);
      session.set_cutting_short(false);
    }
  };
  settle(requests);
  settle(replies);
  session.Close(options & kClosed ? NoReply::kClosed : NoReply::kEndOfCapture);
  if (session.pending() != 0) {
    sink.Fail(absl::StrCat(session.pending(), " commands still waiting after Close"));
  }
  if (counters.replies != sink.answered() ||
      counters.replies + counters.unanswered != sink.commands() ||
      counters.pushes != sink.pushes()) {
    sink.Fail(absl::StrCat("counters say ", counters.replies, " replies, ", counters.unanswered,
                           " unanswered, ", counters.pushes, " pushes; the records ",
                           sink.answered(), ", ", sink.commands() - sink.answered(), ", ",
                           sink.pushes()));
  }
  return sink.Finish();
}

}  // namespace

absl::Status FuzzRespParser(std::string_view input) {
  FuzzInput in(input);
  const uint8_t options = in.U8();
  std::vector<Chunk> chunks;
  while (!in.empty()) {
    const uint8_t header = in.U8();
    const uint16_t len = in.U16();
    Chunk c{(header & kFromServer) != 0, (header & kAckLags) != 0, 0, {}};
    if (header & kGap) {
      c.gap = uint64_t{len} + 1;
    } else {
      c.bytes = in.Bytes(len);
    }
    chunks.push_back(c);
  }
  RespLimits limits;
  if (options & kSmallLimits) {
    limits.max_depth = 4;
    limits.max_aggregate_len = 40;
    limits.max_request_multibulk_len = 20;
    limits.max_bulk_len = 300;
    limits.max_inline_len = 40;
    limits.max_line_len = 40;
  }
  const bool mid_stream = options & kMidStream;
  for (RespRole role : {RespRole::kRequest, RespRole::kReply}) {
    if (absl::Status s = CheckRole(role, limits, mid_stream, options & kByteAtATime, chunks);
        !s.ok()) {
      return s;
    }
  }
  return CheckSession(options, limits, chunks);
}

}  // namespace resptrace

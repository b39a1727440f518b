// One incremental RESP2/RESP3 state machine for both directions of a connection.
//
// Bytes arrive in arbitrary pieces (TCP segments); values may be split anywhere. The parser
// reports values as events to a RespHandler, handing out views into the caller's bytes
// where they are contiguous and into a small internal line buffer where a header or a
// simple value straddles two pieces. It allocates nothing per value.
#ifndef RESPTRACE_RESP_PARSER_H_
#define RESPTRACE_RESP_PARSER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resptrace/resp_type.h"

namespace resptrace {

// Which side of the connection the bytes come from. Requests follow Redis's own request
// grammar (a '*' multibulk of '$' bulk strings, or an inline command line); replies may be
// any RESP2/RESP3 value.
enum class RespRole : uint8_t { kRequest, kReply };

struct RespLimits {
  uint32_t max_depth = 128;                   // nested aggregates (--max-depth)
  int64_t max_aggregate_len = 1 << 24;        // elements declared by one aggregate header
  int64_t max_request_multibulk_len = 1 << 20;  // Redis: "invalid multibulk length" above
  int64_t max_bulk_len = 512ll << 20;         // Redis's proto-max-bulk-len default
  uint32_t max_inline_len = 64 << 10;         // Redis's PROTO_INLINE_MAX_SIZE
  uint32_t max_line_len = 1 << 20;            // simple string/error/number lines
  // Bytes held of a simple string or an error split across pieces; the rest of its bytes
  // are counted, not held. The value is reported with the bytes held and its full length.
  uint32_t max_kept_line = UINT32_MAX;
};

// A scalar value, or one piece of a bulk value that spans several pieces of input.
struct ScalarPiece {
  RespType type;
  std::string_view data;  // this piece's bytes; for verbatim, including the "txt:" prefix
  uint64_t missing = 0;   // bytes of the value lost to a gap at this point (not in data)
  // The full value's length: a bulk type's declared one; a line's data.size(), or more
  // for a line split across pieces that was held in part (RespLimits::max_kept_line).
  int64_t declared_len = 0;
  bool first = true;      // first piece of this value
  bool last = true;       // last piece of this value
};

enum class RespError : uint8_t {
  kBadType,            // a byte that starts no RESP value
  kBadLength,          // length or count not a number, negative (other than -1) or too big
  kBadInteger,         // integer value not a valid signed 64-bit number
  kBadDouble,
  kBadBoolean,
  kMissingCrlf,        // a bulk string not followed by CRLF
  kTooDeep,            // nesting past max_depth
  kLineTooLong,        // a line past max_line_len / max_inline_len
  kUnbalancedQuotes,   // inline command (Redis answers "unbalanced quotes in request")
  kExpectedBulk,       // request multibulk element not a '$' (Redis: "expected '$'")
  kGap,                // bytes missing for good outside a bulk string's body
};
std::string_view RespErrorName(RespError e);

class RespHandler {
 public:
  virtual ~RespHandler() = default;
  // A top-level value starts. `ts_ns` is the capture time of the bytes holding its first
  // byte. `inline_command` is true for a request written as an inline line; its arguments
  // then arrive as an array of bulk strings (unquoted and unescaped).
  virtual void OnMessageBegin(int64_t ts_ns, bool inline_command) = 0;
  // An aggregate header. `count` is the number of elements that follow (twice the
  // declared count for maps and attributes). An attribute is not itself a value: it
  // precedes the value it annotates, and does not count as an element of its parent.
  virtual void OnAggregate(RespType type, int64_t count) = 0;
  virtual void OnScalar(const ScalarPiece& piece) = 0;
  // The top-level value is complete. `ts_ns` is the capture time of the bytes holding its
  // last byte; `wire_bytes` its size on the wire, gap bytes included.
  virtual void OnMessageEnd(int64_t ts_ns, uint64_t wire_bytes) = 0;
  // The input is not RESP at this point (or bytes went missing outside a bulk body). Any
  // message in progress is abandoned without OnMessageEnd; `wire_bytes` of it had been
  // read, the offending line included when the fault was in a line. The parser then skips
  // input up to the next safe boundary (see RespParser::Feed) and calls OnResync there.
  // Bytes that go missing while it skips are a kGap error of their own (no message in
  // progress, `wire_bytes` 0): whole messages may have gone with them.
  virtual void OnProtocolError(RespError error, int64_t ts_ns, uint64_t wire_bytes) = 0;
  // Parsing resumes at a boundary after a protocol error; `skipped` bytes were discarded.
  virtual void OnResync(uint64_t skipped, int64_t ts_ns) = 0;
};

// The parser's state and the accessors that do not depend on who receives its events.
class RespParserBase {
 public:
  // True between messages (no value in progress, not resynchronising).
  bool at_boundary() const;
  bool resyncing() const;

  // When the message in progress lacks only the rest of a length-prefixed value (and that
  // value is the last element at every level above it), the number of bytes that would
  // complete it; 0 otherwise. Lets a stream cut by the end of a capture end its last
  // message as a value with missing bytes instead of dropping it.
  uint64_t BytesToComplete() const;

  // The stream starts at an unknown point of the conversation (a capture that joined a
  // connection mid-stream): bytes are skipped up to the first safe boundary, as after a
  // protocol error (see BasicRespParser::Feed), the first byte counting as a line start.
  // Call before the first Feed.
  void StartMidStream();

  // Bytes of the message in progress so far.
  uint64_t message_bytes() const { return msg_bytes_; }

  // Bytes held of a line split across pieces: all the parser holds of the stream (a bulk
  // string is handed over as it comes; resynchronising, at most a '*' is kept).
  uint64_t held_bytes() const { return state_ == State::kLine ? line_.size() : 0; }

  // Stream bytes received so far (fed and missing).
  uint64_t consumed() const { return consumed_; }
  // Stream offset of the first byte of the piece being parsed. During a callback, the
  // value being reported ends after this offset: a lower bound of its end that costs the
  // hot path nothing.
  uint64_t piece_offset() const { return piece_offset_; }
  // Stream offset of the first byte of the message in progress, from its OnMessageBegin.
  uint64_t message_offset() const { return msg_offset_; }

 protected:
  RespParserBase(RespRole role, const RespLimits& limits);

  friend class RespParserTestPeer;  // checks that internal buffers stay bounded

  // Most lines are short: line_ is reserved this much once, and kept.
  static constexpr size_t kShortLine = 256;
  void ClearLine();
  // A buffer done with (its content dropped) that grew past a short line's size goes back
  // to that size: a connection holds no more than short lines need once a long one is done.
  static void ReleaseLongBuffer(std::string& buffer);

  // Implementation state; see resp_parser_impl.h.
  struct Frame {
    int64_t remaining;  // elements still expected in this aggregate
    bool attribute;     // this frame is an attribute (does not count in its parent)
  };
  enum class State : uint8_t { kLine, kBulk, kResync };

  RespRole role_;
  RespLimits limits_;
  State state_;
  // Reserved for a few levels at first (every connection has two parsers); a deeper value
  // grows it, once per connection, never past max_depth.
  std::vector<Frame> stack_;
  // A line split across pieces: held whole, bounded by the line limit + 1, but a simple
  // string or an error only in part (HoldLine). Cleared, its buffer given back when long.
  std::string line_;
  uint64_t line_cut_ = 0;     // bytes of the line counted, not held
  char line_last_ = 0;        // the line's last byte so far, held or not
  std::string inline_args_;   // unescaped inline arguments; bounded by max_inline_len
  RespType bulk_type_ = RespType::kBulkString;
  int64_t bulk_len_ = 0;      // declared length of the bulk value in progress
  int64_t bulk_done_ = 0;     // bytes of it (then of its CRLF) already consumed
  uint64_t msg_bytes_ = 0;    // bytes of the current message so far
  uint64_t skipped_ = 0;      // bytes discarded while resynchronising
  int64_t now_ts_ = 0;        // ts of the Feed/OnGap call being handled
  int64_t msg_ts_ = 0;        // ts of the current message's first byte
  bool begun_ = false;        // OnMessageBegin was reported for the current message
  bool at_line_start_ = true;
  bool resync_any_line_ = false;  // the error was confined to one inline line
  uint64_t consumed_ = 0;
  uint64_t piece_offset_ = 0;
  uint64_t msg_offset_ = 0;
  const char* piece_ = nullptr;  // the piece being parsed, at stream offset piece_offset_
};

// The parser proper, for a handler type: a RespHandler (events through virtual calls), or
// a final class derived from it, whose handlers the parser then calls directly, inlined
// where they are small. The pipeline parses with its session's final handlers: its
// events are per value, and a virtual call each was a good part of their cost. The
// definitions are in resp_parser_impl.h; resp_parser.cc instantiates RespParser.
template <typename Handler>
class BasicRespParser : public RespParserBase {
 public:
  BasicRespParser(RespRole role, const RespLimits& limits, Handler* handler);

  // Parses `bytes`, the next piece of the stream. Views handed to the handler are valid
  // only during the callback.
  //
  // After a protocol error the parser discards bytes until a safe boundary: for requests,
  // a line that starts with '*' followed by a digit (or, after an inline line with
  // unbalanced quotes, the next line); for replies, a line that starts with a RESP type
  // byte. A line start is the byte after a "\n".
  void Feed(std::string_view bytes, int64_t ts_ns);

  // `bytes` bytes of the stream are missing for good. Inside the body of a bulk string
  // whose length is known, they are skipped (reported as ScalarPiece::missing) and the
  // parser stays in step; anywhere else they are a kGap protocol error. Either way, while
  // resynchronising, the byte after a gap counts as a line start, as a joined stream's
  // first byte does.
  void OnGap(uint64_t bytes, int64_t ts_ns);
  // True when OnGap(bytes) would be skipped inside a bulk string, the parser staying in step.
  bool GapFitsInBulk(uint64_t bytes) const {
    return state_ == State::kBulk && bytes <= static_cast<uint64_t>(bulk_len_ + 2 - bulk_done_);
  }

  // Gives up the line held (held_bytes()), for an owner that bounds what is held: its
  // bytes are lost as in a gap (a kGap protocol error), and the parser looks for the next
  // boundary.
  void DropHeldLine(int64_t ts_ns);

 private:
  const char* ParseLine(const char* p, const char* end);
  const char* ParseShortHeader(const char* p, const char* end);
  const char* ParseWholeRequest(const char* p, const char* end);
  const char* ParseWholeReply(const char* p, const char* end);
  const char* ParseBulk(const char* p, const char* end);
  const char* Resync(const char* p, const char* end);
  void HoldLine(const char* p, size_t n);
  void EndHeldInPart(size_t limit);
  void OnLine(std::string_view line);
  void OnReplyLine(std::string_view line);
  void OnRequestLine(std::string_view line);
  void OnInlineLine(std::string_view line);
  void BeginMessage();
  void StartBulk(RespType type, int64_t len);
  void StartAggregate(RespType type, int64_t count);
  void EmitScalar(RespType type, std::string_view data);
  void CompleteValue(bool was_attribute);
  void Fail(RespError error, bool next_is_line_start);

  Handler* handler_;
};

// The parser with any RespHandler.
using RespParser = BasicRespParser<RespHandler>;
extern template class BasicRespParser<RespHandler>;

}  // namespace resptrace

#endif  // RESPTRACE_RESP_PARSER_H_

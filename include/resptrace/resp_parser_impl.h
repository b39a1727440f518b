// The definitions of BasicRespParser, for the files that instantiate it: resp_parser.cc
// (RespParser) and session.cc (the session's own handlers).
#ifndef RESPTRACE_RESP_PARSER_IMPL_H_
#define RESPTRACE_RESP_PARSER_IMPL_H_

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <string_view>

#include "resptrace/resp_parser.h"

namespace resptrace {
namespace resp_internal {

// Redis's string2ll(): optional '-', no '+', no leading zeros, no "-0", fits in int64.
// Redis and hiredis parse every length, count and integer with it.
bool ParseInt64(std::string_view s, int64_t* out);
// A RESP3 double: "inf", "-inf", "nan" (any case) or a decimal number.
bool IsValidDouble(std::string_view s);
// A RESP3 big number: an optional '-' and at least one digit.
bool IsValidBigNumber(std::string_view s);

inline constexpr std::string_view kReplyTypeBytes = "+-:$*_,#(!=%~|>";

// A table: the type byte is checked at every value and every resync line start.
inline constexpr auto kIsReplyTypeByte = [] {
  std::array<bool, 256> table{};
  for (char c : kReplyTypeBytes) table[static_cast<unsigned char>(c)] = true;
  return table;
}();

inline bool IsReplyTypeByte(char c) { return kIsReplyTypeByte[static_cast<unsigned char>(c)]; }

inline bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The number of a short header ("$3\r\n", "*16\r\n") that starts at `q`, just past its
// type byte: 1 to 18 digits, the first not '0', then CRLF, all before `end`. Returns the
// byte after the CRLF, or nullptr for anything else (the general path decides those).
inline const char* ShortNumber(const char* q, const char* end, int64_t* n) {
  // One digit first: most counts and lengths are that short.
  if (end - q >= 3 && q[1] == '\r' && q[2] == '\n' && q[0] >= '1' && q[0] <= '9') {
    *n = q[0] - '0';
    return q + 3;
  }
  const char* const limit = end - q > 18 ? q + 18 : end;  // 18 digits cannot overflow
  if (q == limit || *q < '1' || *q > '9') return nullptr;
  int64_t v = 0;
  while (q < limit && IsDigit(*q)) v = v * 10 + (*q++ - '0');
  if (end - q < 2 || q[0] != '\r' || q[1] != '\n') return nullptr;
  *n = v;
  return q + 2;
}

enum class InlineToken : uint8_t { kArg, kEnd, kUnbalanced };

// The next argument of an inline command line, split exactly like Redis's
// sdssplitargs(); see resp_parser.cc.
InlineToken NextInlineArg(std::string_view& rest, std::string& scratch, std::string_view* arg);

}  // namespace resp_internal

template <typename Handler>
BasicRespParser<Handler>::BasicRespParser(RespRole role, const RespLimits& limits,
                                          Handler* handler)
    : RespParserBase(role, limits), handler_(handler) {}

template <typename Handler>
void BasicRespParser<Handler>::Feed(std::string_view bytes, int64_t ts_ns) {
  now_ts_ = ts_ns;
  piece_offset_ = consumed_;
  consumed_ += bytes.size();
  piece_ = bytes.data();
  const char* p = bytes.data();
  const char* const end = p + bytes.size();
  while (p < end) {
    switch (state_) {
      case State::kLine: p = ParseLine(p, end); break;
      case State::kBulk: p = ParseBulk(p, end); break;
      case State::kResync: p = Resync(p, end); break;
    }
  }
}

template <typename Handler>
void BasicRespParser<Handler>::OnGap(uint64_t bytes, int64_t ts_ns) {
  if (bytes == 0) return;
  now_ts_ = ts_ns;
  piece_offset_ = consumed_;
  consumed_ += bytes;
  if (state_ == State::kResync) {
    // Still looking for a boundary, and messages may have gone with these bytes too: the
    // handler is told. What follows the gap may start a message (a segment often starts
    // one), as the first bytes of a joined stream may: the same rules apply.
    handler_->OnProtocolError(RespError::kGap, ts_ns, 0);
    skipped_ += line_.size();  // a pending '*'
    line_.clear();
    at_line_start_ = true;
    resync_any_line_ = false;
    return;
  }
  // The bulk's declared length tells exactly where it ends, so a gap inside its body (or
  // its CRLF) loses only payload: report it as missing and stay in step.
  if (!GapFitsInBulk(bytes)) {
    Fail(RespError::kGap, true);
    return;
  }
  msg_bytes_ += bytes;
  if (bulk_done_ < bulk_len_) {
    const uint64_t body_left = static_cast<uint64_t>(bulk_len_ - bulk_done_);
    const uint64_t missing = bytes < body_left ? bytes : body_left;
    ScalarPiece piece{bulk_type_, {}, missing, bulk_len_, bulk_done_ == 0, missing == body_left};
    handler_->OnScalar(piece);
  }
  bulk_done_ += static_cast<int64_t>(bytes);
  if (bulk_done_ == bulk_len_ + 2) CompleteValue(false);
}

template <typename Handler>
void BasicRespParser<Handler>::DropHeldLine(int64_t ts_ns) {
  if (state_ != State::kLine || line_.empty()) return;
  now_ts_ = ts_ns;
  Fail(RespError::kGap, false);
}

template <typename Handler>
const char* BasicRespParser<Handler>::ParseLine(const char* p, const char* end) {
  if (line_.empty()) {
    // Line ends between replies carry nothing (no server sends them, hand-made captures
    // do): skipping them cannot shift any value.
    if (role_ == RespRole::kReply && msg_bytes_ == 0 && (*p == '\r' || *p == '\n')) return p + 1;
    // The first byte alone decides some errors; report them without waiting for a line.
    if (role_ == RespRole::kReply && !resp_internal::IsReplyTypeByte(*p)) {
      Fail(RespError::kBadType, false);
      return p;
    }
    if (role_ == RespRole::kRequest && !stack_.empty() && *p != '$') {
      Fail(RespError::kExpectedBulk, false);
      return p;
    }
    if (msg_bytes_ == 0) {
      msg_ts_ = now_ts_;
      msg_offset_ = piece_offset_ + static_cast<uint64_t>(p - piece_);
    }
    if (msg_bytes_ == 0 && stack_.empty()) {  // a message starts here
      const char* const next = role_ == RespRole::kRequest ? ParseWholeRequest(p, end)
                                                            : ParseWholeReply(p, end);
      if (next != nullptr) return next;
    }
    if (const char* next = ParseShortHeader(p, end)) return next;
  }
  const size_t limit = role_ == RespRole::kRequest ? limits_.max_inline_len : limits_.max_line_len;
  // Bytes this line may still take before its '\n': the limit plus the line's '\r'. Failing
  // at the first byte past it, wherever the pieces were cut, keeps line_ bounded and makes
  // the outcome independent of how the stream was split.
  const size_t room = limit + 1 - (line_.size() + line_cut_);
  const size_t avail = static_cast<size_t>(end - p);
  const char* nl = static_cast<const char*>(std::memchr(p, '\n', avail < room + 1 ? avail : room + 1));
  if (nl == nullptr) {
    if (avail > room) {
      // The line's bytes read so far, up to the first past the limit, count as the
      // abandoned message's: the same whichever piece holds them.
      msg_bytes_ += room + 1;
      Fail(RespError::kLineTooLong, false);
      return p + room + 1;
    }
    HoldLine(p, avail);
    msg_bytes_ += avail;
    return end;
  }
  const size_t n = static_cast<size_t>(nl - p);
  msg_bytes_ += n + 1;
  std::string_view line(p, n);
  if (!line_.empty()) {
    HoldLine(p, n);
    if (line_cut_ != 0) {
      EndHeldInPart(limit);
      return nl + 1;
    }
    line = line_;
  }
  if (line.size() > limit + (!line.empty() && line.back() == '\r' ? 1 : 0)) {
    Fail(RespError::kLineTooLong, true);
    return nl + 1;
  }
  OnLine(line);
  ClearLine();
  return nl + 1;
}

// A line split across pieces is held until its end, but of a simple string or an error
// only the first max_kept_line bytes: the records print no more of it. The rest is
// counted, and its last byte kept for the CRLF check.
template <typename Handler>
void BasicRespParser<Handler>::HoldLine(const char* p, size_t n) {
  if (n == 0) return;
  size_t keep = n;
  const char type = line_.empty() ? *p : line_[0];
  if (role_ == RespRole::kReply && (type == '+' || type == '-')) {
    const size_t cap = size_t{1} + limits_.max_kept_line;  // the type byte, then the value's
    keep = line_.size() < cap ? std::min(n, cap - line_.size()) : 0;
  }
  line_.append(p, keep);
  line_cut_ += n - keep;
  line_last_ = p[n - 1];
}

// The end of a simple string or an error held in part: checked as OnReplyLine checks a
// whole one, and reported with the bytes held and its full length.
template <typename Handler>
void BasicRespParser<Handler>::EndHeldInPart(size_t limit) {
  const uint64_t len = line_.size() + line_cut_;  // without the '\n'
  if (len > limit + (line_last_ == '\r' ? 1 : 0)) return Fail(RespError::kLineTooLong, true);
  if (line_last_ != '\r') return Fail(RespError::kMissingCrlf, true);
  BeginMessage();
  const RespType type = line_[0] == '+' ? RespType::kSimpleString : RespType::kError;
  const std::string_view held = std::string_view(line_).substr(1);
  handler_->OnScalar(ScalarPiece{type, held, 0, static_cast<int64_t>(len - 2), true, true});
  CompleteValue(false);
  ClearLine();
}

// Most lines are headers such as "$3\r\n" or "*16\r\n" lying whole in the piece: take them
// straight from the bytes, without a search for the '\n' or a pass through the line
// machinery. Anything unusual (a sign, a leading zero, a long number, an error to report,
// a header cut by the piece's end) returns nullptr and takes the general path.
template <typename Handler>
const char* BasicRespParser<Handler>::ParseShortHeader(const char* p, const char* end) {
  const char type = *p;
  const bool request = role_ == RespRole::kRequest;
  if (type != '$' && type != '*' && (request || type != ':')) return nullptr;
  if (request && (type == '*') != stack_.empty()) return nullptr;
  int64_t n = 0;
  const char* const next = resp_internal::ShortNumber(p + 1, end, &n);
  if (next == nullptr) return nullptr;
  if (request && type == '*' && n > limits_.max_request_multibulk_len) return nullptr;
  msg_bytes_ += static_cast<uint64_t>(next - p);
  switch (type) {
    case '$': StartBulk(RespType::kBulkString, n); break;
    case '*': StartAggregate(RespType::kArray, n); break;
    default:  // the digits, between the type byte and the CRLF
      EmitScalar(RespType::kInteger, std::string_view(p + 1, static_cast<size_t>(next - p - 3)));
  }
  return next;
}

// A whole request in the piece, in the form client libraries send ("*<n>\r\n", then n
// times "$<len>\r\n<bytes>\r\n", every number a short header, n at most
// kWholeRequestArgs): checked whole first, then reported in one go, the same events the
// state machine would report but without its round per header and per value. Anything
// else, a request cut by the piece's end included, returns nullptr before any event, and
// the general path takes it.
template <typename Handler>
const char* BasicRespParser<Handler>::ParseWholeRequest(const char* p, const char* end) {
  constexpr int64_t kWholeRequestArgs = 16;  // GET, SET, HSET... have a few
  if (*p != '*') return nullptr;
  int64_t argc = 0;
  const char* q = resp_internal::ShortNumber(p + 1, end, &argc);
  if (q == nullptr || argc > kWholeRequestArgs || argc > limits_.max_request_multibulk_len ||
      argc > limits_.max_aggregate_len || limits_.max_depth == 0) {
    return nullptr;
  }
  // Where each argument's bytes start; its length is args_len. Left uninitialised: only
  // the first argc are written and read.
  const char* args_at[kWholeRequestArgs];
  int64_t args_len[kWholeRequestArgs];
  for (int64_t i = 0; i < argc; ++i) {
    int64_t len = 0;
    if (q == end || *q != '$' || (q = resp_internal::ShortNumber(q + 1, end, &len)) == nullptr ||
        len > limits_.max_bulk_len || end - q < len + 2 || q[len] != '\r' || q[len + 1] != '\n') {
      return nullptr;
    }
    args_at[i] = q;
    args_len[i] = len;
    q += len + 2;
  }
  handler_->OnMessageBegin(msg_ts_, false);
  handler_->OnAggregate(RespType::kArray, argc);
  for (int64_t i = 0; i < argc; ++i) {
    const std::string_view arg(args_at[i], static_cast<size_t>(args_len[i]));
    handler_->OnScalar(ScalarPiece{RespType::kBulkString, arg, 0, args_len[i], true, true});
  }
  handler_->OnMessageEnd(now_ts_, static_cast<uint64_t>(q - p));
  return q;
}

// The same for the usual replies: a top-level simple string or error on a short line
// ("+OK"), or a bulk string ("$3\r\nabc"), whole in the piece.
template <typename Handler>
const char* BasicRespParser<Handler>::ParseWholeReply(const char* p, const char* end) {
  const char type = *p;
  if (type == '$') {
    int64_t len = 0;
    const char* const body = resp_internal::ShortNumber(p + 1, end, &len);
    if (body == nullptr || len > limits_.max_bulk_len || end - body < len + 2 ||
        body[len] != '\r' || body[len + 1] != '\n') {
      return nullptr;
    }
    handler_->OnMessageBegin(msg_ts_, false);
    handler_->OnScalar(ScalarPiece{RespType::kBulkString,
                                   std::string_view(body, static_cast<size_t>(len)), 0, len,
                                   true, true});
    handler_->OnMessageEnd(now_ts_, static_cast<uint64_t>(body + len + 2 - p));
    return body + len + 2;
  }
  if (type != '+' && type != '-') return nullptr;
  // Short lines only, well within the line limit: a byte loop, no call to memchr.
  constexpr size_t kShortLine = 64;
  const size_t scan = std::min({static_cast<size_t>(end - p), kShortLine,
                                static_cast<size_t>(limits_.max_line_len)});
  size_t nl = 1;
  while (nl < scan && p[nl] != '\n') ++nl;
  if (nl >= scan || nl < 2 || p[nl - 1] != '\r') return nullptr;
  const std::string_view body(p + 1, nl - 2);
  const auto len = static_cast<int64_t>(body.size());
  handler_->OnMessageBegin(msg_ts_, false);
  handler_->OnScalar(ScalarPiece{type == '+' ? RespType::kSimpleString : RespType::kError, body,
                                 0, len, true, true});
  handler_->OnMessageEnd(now_ts_, nl + 1);
  return p + nl + 1;
}

template <typename Handler>
void BasicRespParser<Handler>::OnLine(std::string_view line) {
  if (role_ == RespRole::kReply) {
    OnReplyLine(line);
  } else if (!stack_.empty() || (!line.empty() && line[0] == '*')) {
    OnRequestLine(line);
  } else {
    OnInlineLine(line);
  }
}

template <typename Handler>
void BasicRespParser<Handler>::BeginMessage() {
  if (begun_) return;
  begun_ = true;
  handler_->OnMessageBegin(msg_ts_, false);
}

template <typename Handler>
void BasicRespParser<Handler>::OnReplyLine(std::string_view line) {
  // A RESP line ends in CRLF; a bare LF means the peer is not speaking RESP.
  if (line.back() != '\r') {
    Fail(RespError::kMissingCrlf, true);
    return;
  }
  const char type_byte = line[0];
  const std::string_view body = line.substr(1, line.size() - 2);
  int64_t n = 0;
  switch (type_byte) {
    case '+': EmitScalar(RespType::kSimpleString, body); return;
    case '-': EmitScalar(RespType::kError, body); return;
    case ':':
      if (!resp_internal::ParseInt64(body, &n)) return Fail(RespError::kBadInteger, true);
      EmitScalar(RespType::kInteger, body);
      return;
    case ',':
      if (!resp_internal::IsValidDouble(body)) return Fail(RespError::kBadDouble, true);
      EmitScalar(RespType::kDouble, body);
      return;
    case '#':
      if (body != "t" && body != "f") return Fail(RespError::kBadBoolean, true);
      EmitScalar(RespType::kBoolean, body);
      return;
    case '(':
      if (!resp_internal::IsValidBigNumber(body)) return Fail(RespError::kBadInteger, true);
      EmitScalar(RespType::kBigNumber, body);
      return;
    case '_':
      if (!body.empty()) return Fail(RespError::kBadType, true);
      EmitScalar(RespType::kNull, {});
      return;
    default:
      break;
  }
  // The rest carry a length or count. Streamed RESP3 values ("$?", "*?") are not
  // supported: Redis never sends them, and "?" fails the number check as kBadLength.
  if (!resp_internal::ParseInt64(body, &n)) return Fail(RespError::kBadLength, true);
  if (n == -1 && type_byte != '|') {
    EmitScalar(RespType::kNull, {});
    return;
  }
  switch (type_byte) {
    case '$': return StartBulk(RespType::kBulkString, n);
    case '!': return StartBulk(RespType::kBulkError, n);
    case '=':
      if (n >= 0 && n < 4) return Fail(RespError::kBadLength, true);  // needs "txt:"
      return StartBulk(RespType::kVerbatim, n);
    case '*': return StartAggregate(RespType::kArray, n);
    case '%': return StartAggregate(RespType::kMap, n);
    case '~': return StartAggregate(RespType::kSet, n);
    case '>': return StartAggregate(RespType::kPush, n);
    case '|': return StartAggregate(RespType::kAttribute, n);
    default: return Fail(RespError::kBadType, true);  // unreachable: ParseLine checked it
  }
}

// processMultibulkBuffer(): "*<count>" then <count> "$<len>" bulk strings. Redis ends
// these lines at the '\r', so a line without one fails the number check as it does there.
template <typename Handler>
void BasicRespParser<Handler>::OnRequestLine(std::string_view line) {
  int64_t n = 0;
  const bool has_cr = line.back() == '\r';
  const bool ok = has_cr && resp_internal::ParseInt64(line.substr(1, line.size() - 2), &n);
  if (stack_.empty()) {
    if (!ok || n > limits_.max_request_multibulk_len) return Fail(RespError::kBadLength, true);
    if (n <= 0) {
      msg_bytes_ = 0;  // Redis treats "*0", "*-1", ... as no command at all
      return;
    }
    StartAggregate(RespType::kArray, n);
    return;
  }
  if (!ok || n < 0) return Fail(RespError::kBadLength, true);
  StartBulk(RespType::kBulkString, n);
}

// processInlineBuffer(): the line without its "\r", split by sdssplitargs().
template <typename Handler>
void BasicRespParser<Handler>::OnInlineLine(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // sdssplitargs() reads a C string: a NUL ends the arguments. (Redis's own strchr() for
  // the '\n' would stop there too and wait for more input; we keep the '\n' framing.)
  if (const void* nul = std::memchr(line.data(), '\0', line.size())) {
    line = line.substr(0, static_cast<size_t>(static_cast<const char*>(nul) - line.data()));
  }
  int64_t argc = 0;
  std::string_view rest = line;
  std::string_view arg;
  for (;;) {
    const resp_internal::InlineToken t = resp_internal::NextInlineArg(rest, inline_args_, &arg);
    if (t == resp_internal::InlineToken::kUnbalanced) {
      ReleaseLongBuffer(inline_args_);
      return Fail(RespError::kUnbalancedQuotes, true);
    }
    if (t == resp_internal::InlineToken::kEnd) break;
    ++argc;
  }
  if (argc == 0) {
    msg_bytes_ = 0;  // Redis skips a blank line
    return;
  }
  begun_ = true;
  handler_->OnMessageBegin(msg_ts_, true);
  handler_->OnAggregate(RespType::kArray, argc);
  rest = line;
  while (resp_internal::NextInlineArg(rest, inline_args_, &arg) ==
         resp_internal::InlineToken::kArg) {
    const auto len = static_cast<int64_t>(arg.size());
    handler_->OnScalar(ScalarPiece{RespType::kBulkString, arg, 0, len, true, true});
  }
  ReleaseLongBuffer(inline_args_);
  CompleteValue(false);
}

template <typename Handler>
void BasicRespParser<Handler>::StartBulk(RespType type, int64_t len) {
  if (len < 0 || len > limits_.max_bulk_len) return Fail(RespError::kBadLength, true);
  BeginMessage();
  bulk_type_ = type;
  bulk_len_ = len;
  bulk_done_ = 0;
  state_ = State::kBulk;
  if (len == 0) handler_->OnScalar(ScalarPiece{type, {}, 0, 0, true, true});
}

template <typename Handler>
void BasicRespParser<Handler>::StartAggregate(RespType type, int64_t count) {
  if (count < 0 || count > limits_.max_aggregate_len) return Fail(RespError::kBadLength, true);
  const bool attribute = type == RespType::kAttribute;
  if (type == RespType::kMap || attribute) count *= 2;
  if (count > 0 && stack_.size() >= limits_.max_depth) return Fail(RespError::kTooDeep, true);
  BeginMessage();
  if (count == 0) {
    handler_->OnAggregate(type, 0);
    CompleteValue(attribute);
    return;
  }
  handler_->OnAggregate(type, count);
  stack_.push_back(Frame{count, attribute});
}

template <typename Handler>
void BasicRespParser<Handler>::EmitScalar(RespType type, std::string_view data) {
  BeginMessage();
  const auto len = static_cast<int64_t>(data.size());
  handler_->OnScalar(ScalarPiece{type, data, 0, len, true, true});
  CompleteValue(false);
}

// A value (or an attribute) is complete: count it in its parent, closing every aggregate
// it completes, and end the message when the top-level value is complete.
template <typename Handler>
void BasicRespParser<Handler>::CompleteValue(bool was_attribute) {
  state_ = State::kLine;
  while (!stack_.empty()) {
    if (was_attribute) return;  // an attribute annotates the next value; it is no element
    Frame& top = stack_.back();
    if (--top.remaining > 0) return;
    was_attribute = top.attribute;
    stack_.pop_back();
  }
  if (was_attribute) return;  // a top-level attribute: the real top-level value follows
  handler_->OnMessageEnd(now_ts_, msg_bytes_);
  msg_bytes_ = 0;
  begun_ = false;
}

template <typename Handler>
const char* BasicRespParser<Handler>::ParseBulk(const char* p, const char* end) {
  if (bulk_done_ < bulk_len_) {
    const auto avail = static_cast<uint64_t>(end - p);
    const auto body_left = static_cast<uint64_t>(bulk_len_ - bulk_done_);
    const uint64_t take = avail < body_left ? avail : body_left;
    handler_->OnScalar(ScalarPiece{bulk_type_, std::string_view(p, take), 0, bulk_len_,
                                   bulk_done_ == 0, take == body_left});
    bulk_done_ += static_cast<int64_t>(take);
    msg_bytes_ += take;
    p += take;
    // The usual case: the whole CRLF is here too.
    if (take == body_left && end - p >= 2 && p[0] == '\r' && p[1] == '\n') {
      msg_bytes_ += 2;
      CompleteValue(false);
      return p + 2;
    }
    return p;
  }
  // Redis skips the two bytes after a request's bulk unchecked; we check them because a
  // mismatch there means we have lost step with the stream.
  const char expected = bulk_done_ == bulk_len_ ? '\r' : '\n';
  if (*p != expected) {
    Fail(RespError::kMissingCrlf, false);
    return p;
  }
  ++bulk_done_;
  ++msg_bytes_;
  if (bulk_done_ == bulk_len_ + 2) CompleteValue(false);
  return p + 1;
}

template <typename Handler>
void BasicRespParser<Handler>::Fail(RespError error, bool next_is_line_start) {
  // A bad inline line is wrong on its own: the request after it starts on the next line,
  // inline or not. Any other fault leaves the structure unknown until a '*' header.
  resync_any_line_ = error == RespError::kUnbalancedQuotes;
  handler_->OnProtocolError(error, now_ts_, msg_bytes_);
  state_ = State::kResync;
  stack_.clear();
  ClearLine();
  msg_bytes_ = 0;
  begun_ = false;
  skipped_ = 0;
  at_line_start_ = next_is_line_start;
  if (resync_any_line_ && next_is_line_start) {
    // The next byte starts a line, which is all this fault needs: in step already.
    handler_->OnResync(0, now_ts_);
    state_ = State::kLine;
  }
}

template <typename Handler>
const char* BasicRespParser<Handler>::Resync(const char* p, const char* end) {
  if (role_ == RespRole::kRequest && !line_.empty()) {
    // A '*' ended the previous piece at a line start; this byte decides.
    if (resp_internal::IsDigit(*p)) {
      handler_->OnResync(skipped_, msg_ts_);
      state_ = State::kLine;
      msg_bytes_ = 1;
      return p;
    }
    line_.clear();
    ++skipped_;
    at_line_start_ = false;
  }
  while (p < end) {
    if (at_line_start_) {
      if (role_ == RespRole::kReply && resp_internal::IsReplyTypeByte(*p)) {
        handler_->OnResync(skipped_, now_ts_);
        state_ = State::kLine;
        return p;
      }
      if (role_ == RespRole::kRequest && resync_any_line_) {
        handler_->OnResync(skipped_, now_ts_);
        state_ = State::kLine;
        return p;
      }
      if (role_ == RespRole::kRequest && *p == '*') {
        if (p + 1 == end) {
          line_.push_back('*');
          msg_ts_ = now_ts_;
          msg_offset_ = piece_offset_ + static_cast<uint64_t>(p - piece_);
          return end;
        }
        if (resp_internal::IsDigit(p[1])) {
          handler_->OnResync(skipped_, now_ts_);
          state_ = State::kLine;
          return p;
        }
      }
      at_line_start_ = false;
    }
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (nl == nullptr) {
      skipped_ += static_cast<uint64_t>(end - p);
      return end;
    }
    skipped_ += static_cast<uint64_t>(nl + 1 - p);
    p = nl + 1;
    at_line_start_ = true;
  }
  return p;
}


}  // namespace resptrace

#endif  // RESPTRACE_RESP_PARSER_IMPL_H_

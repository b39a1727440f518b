#include "resptrace/resp_parser.h"

#include <algorithm>
#include <limits>

#include "resptrace/resp_parser_impl.h"

namespace resptrace {
namespace resp_internal {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char c = a[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != b[i]) return false;
  }
  return true;
}

// isspace() in the C locale, as sdssplitargs() uses it.
bool IsCSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsHexDigit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return c - 'A' + 10;
}

}  // namespace

bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty()) return false;
  if (s.size() == 1 && s[0] == '0') {
    *out = 0;
    return true;
  }
  bool negative = s[0] == '-';
  if (negative) s.remove_prefix(1);
  if (s.empty() || s[0] < '1' || s[0] > '9') return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    uint64_t d = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - d) / 10) return false;
    v = v * 10 + d;
  }
  constexpr uint64_t kMaxPositive = std::numeric_limits<int64_t>::max();
  if (negative) {
    if (v > kMaxPositive + 1) return false;
    *out = static_cast<int64_t>(0 - v);
  } else {
    if (v > kMaxPositive) return false;
    *out = static_cast<int64_t>(v);
  }
  return true;
}

// A RESP3 double: "inf", "-inf", "nan" (hiredis accepts any case) or a decimal number
// made of digits, signs, '.', 'e'/'E' with at least one digit.
bool IsValidDouble(std::string_view s) {
  if (EqualsIgnoreCase(s, "inf") || EqualsIgnoreCase(s, "-inf") || EqualsIgnoreCase(s, "nan")) {
    return true;
  }
  bool digit = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      digit = true;
    } else if (c != '+' && c != '-' && c != '.' && c != 'e' && c != 'E') {
      return false;
    }
  }
  return digit;
}

// A RESP3 big number: an optional '-' and at least one digit.
bool IsValidBigNumber(std::string_view s) {
  if (!s.empty() && s[0] == '-') s.remove_prefix(1);
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}


// The next argument of an inline command line, split exactly like Redis's
// sdssplitargs(): blanks separate arguments; "double quotes" take the escapes \n \r \t
// \b \a \xHH and \<any>; 'single quotes' take only \'; a closing quote must be followed
// by a blank or the end. `rest` must hold no NUL (sdssplitargs stops at one). Unquoted
// arguments are views into `rest`; others are unescaped into `scratch`.
InlineToken NextInlineArg(std::string_view& rest, std::string& scratch, std::string_view* arg) {
  const size_t n = rest.size();
  auto at = [&](size_t i) { return i < n ? rest[i] : '\0'; };
  size_t i = 0;
  while (i < n && IsCSpace(rest[i])) ++i;
  if (i == n) {
    rest = {};
    return InlineToken::kEnd;
  }
  const size_t start = i;
  while (i < n && rest[i] != ' ' && rest[i] != '\n' && rest[i] != '\r' && rest[i] != '\t' &&
         rest[i] != '"' && rest[i] != '\'') {
    ++i;
  }
  if (i == n || (rest[i] != '"' && rest[i] != '\'')) {
    *arg = rest.substr(start, i - start);
    rest.remove_prefix(i);
    return InlineToken::kArg;
  }
  scratch.assign(rest.data() + start, i - start);
  bool in_double = false;
  bool in_single = false;
  for (bool done = false; !done;) {
    const char c = at(i);
    if (in_double) {
      if (c == '\\' && at(i + 1) == 'x' && IsHexDigit(at(i + 2)) && IsHexDigit(at(i + 3))) {
        scratch.push_back(static_cast<char>(HexValue(at(i + 2)) * 16 + HexValue(at(i + 3))));
        i += 3;
      } else if (c == '\\' && at(i + 1) != '\0') {
        ++i;
        switch (at(i)) {
          case 'n': scratch.push_back('\n'); break;
          case 'r': scratch.push_back('\r'); break;
          case 't': scratch.push_back('\t'); break;
          case 'b': scratch.push_back('\b'); break;
          case 'a': scratch.push_back('\a'); break;
          default: scratch.push_back(at(i)); break;
        }
      } else if (c == '"') {
        if (at(i + 1) != '\0' && !IsCSpace(at(i + 1))) return InlineToken::kUnbalanced;
        done = true;
      } else if (c == '\0') {
        return InlineToken::kUnbalanced;
      } else {
        scratch.push_back(c);
      }
    } else if (in_single) {
      if (c == '\\' && at(i + 1) == '\'') {
        ++i;
        scratch.push_back('\'');
      } else if (c == '\'') {
        if (at(i + 1) != '\0' && !IsCSpace(at(i + 1))) return InlineToken::kUnbalanced;
        done = true;
      } else if (c == '\0') {
        return InlineToken::kUnbalanced;
      } else {
        scratch.push_back(c);
      }
    } else {
      switch (c) {
        case ' ': case '\n': case '\r': case '\t': case '\0': done = true; break;
        case '"': in_double = true; break;
        case '\'': in_single = true; break;
        default: scratch.push_back(c); break;
      }
    }
    if (at(i) != '\0') ++i;
  }
  *arg = scratch;
  rest.remove_prefix(i < n ? i : n);
  return InlineToken::kArg;
}


}  // namespace resp_internal

std::string_view RespErrorName(RespError e) {
  switch (e) {
    case RespError::kBadType: return "bad_type";
    case RespError::kBadLength: return "bad_length";
    case RespError::kBadInteger: return "bad_integer";
    case RespError::kBadDouble: return "bad_double";
    case RespError::kBadBoolean: return "bad_boolean";
    case RespError::kMissingCrlf: return "missing_crlf";
    case RespError::kTooDeep: return "too_deep";
    case RespError::kLineTooLong: return "line_too_long";
    case RespError::kUnbalancedQuotes: return "unbalanced_quotes";
    case RespError::kExpectedBulk: return "expected_bulk";
    case RespError::kGap: return "gap";
  }
  return "unknown";
}

RespParserBase::RespParserBase(RespRole role, const RespLimits& limits)
    : role_(role), limits_(limits), state_(State::kLine) {
  constexpr uint32_t kStackReserve = 8;  // deeper than most replies nest
  stack_.reserve(std::min(limits_.max_depth, kStackReserve));
  line_.reserve(kShortLine);
}

void RespParserBase::ClearLine() {
  line_.clear();
  line_cut_ = 0;
  ReleaseLongBuffer(line_);
}

void RespParserBase::ReleaseLongBuffer(std::string& buffer) {
  if (buffer.capacity() <= kShortLine) return;
  std::string short_buffer;
  short_buffer.reserve(kShortLine);
  buffer.swap(short_buffer);
}

bool RespParserBase::at_boundary() const { return state_ == State::kLine && msg_bytes_ == 0; }

bool RespParserBase::resyncing() const { return state_ == State::kResync; }

void RespParserBase::StartMidStream() {
  state_ = State::kResync;
  at_line_start_ = true;
  resync_any_line_ = false;
  skipped_ = 0;
}

uint64_t RespParserBase::BytesToComplete() const {
  if (state_ != State::kBulk) return 0;
  for (const Frame& f : stack_) {
    if (f.remaining != 1 || f.attribute) return 0;
  }
  return static_cast<uint64_t>(bulk_len_ + 2 - bulk_done_);
}

template class BasicRespParser<RespHandler>;

}  // namespace resptrace

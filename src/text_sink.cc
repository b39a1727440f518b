#include "resptrace/text_sink.h"

#include <ctime>
#include <string>

#include "absl/strings/str_cat.h"

namespace resptrace {
namespace {

bool IsBare(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '\'' || c == '\\') return false;
  }
  return true;
}

// Quoted like redis-cli does, so that a line can be read back unambiguously and no byte
// of the traffic can drive the terminal.
void AppendEscapedBody(std::string& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out.append("\\x");
          out.push_back(kHex[c >> 4]);
          out.push_back(kHex[c & 0xF]);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
}

void AppendQuoted(std::string& out, std::string_view s) {
  out.push_back('"');
  AppendEscapedBody(out, s);
  out.push_back('"');
}

void AppendCut(std::string& out, const ValueNode& n) {
  if (n.missing != 0) {
    absl::StrAppend(&out, "...(", n.full_len, " bytes, ", n.missing, " missing)");
  } else if (n.truncated) {
    absl::StrAppend(&out, "...(", n.full_len, " bytes)");
  }
}

// --redact-values: a value shown only by its length on the wire.
void AppendHidden(std::string& out, const ValueNode& n) {
  absl::StrAppend(&out, "(redacted ", n.full_len, n.full_len == 1 ? " byte" : " bytes");
  if (n.missing != 0) absl::StrAppend(&out, ", ", n.missing, " missing");
  out.push_back(')');
}

void AppendArg(std::string& out, const Message& m, const ValueNode& n, bool hide) {
  if (n.secret) {
    out.append("(redacted)");
    return;
  }
  if (hide) {
    AppendHidden(out, n);
    return;
  }
  std::string_view d = m.data(n);
  if (IsBare(d)) {
    out.append(d);
  } else {
    AppendQuoted(out, d);
  }
  AppendCut(out, n);
}

// --redact-values: a hidden scalar of a reply, after the tag it has when shown, so that its
// type stays visible.
void AppendHiddenScalar(std::string& out, const ValueNode& n, std::string_view d) {
  switch (n.type) {
    case RespType::kError:
    case RespType::kBulkError: {
      out.append("(error) ");
      const std::string_view code = ErrorCode(n, d);
      if (!code.empty()) out.append(code).push_back(' ');
      break;
    }
    case RespType::kInteger: out.append("(integer) "); break;
    case RespType::kDouble: out.append("(double) "); break;
    case RespType::kBigNumber: out.append("(bignum) "); break;
    case RespType::kBoolean: out.append("(boolean) "); break;
    default: break;
  }
  AppendHidden(out, n);
}

// `hide`: the value is shown as hidden (--redact-values), its aggregates' elements too.
void AppendValue(std::string& out, const Message& m, const ValueNode* n, bool hide) {
  if (n == nullptr) {  // a message whose values were not kept
    out.append("(not kept)");
    return;
  }
  if (n->secret) {
    out.append("(redacted)");
    return;
  }
  std::string_view d = m.data(*n);
  if (hide && IsHiddenValue(*n, d)) {
    AppendHiddenScalar(out, *n, d);
    return;
  }
  switch (n->type) {
    case RespType::kSimpleString:
      AppendEscapedBody(out, d);
      AppendCut(out, *n);
      return;
    case RespType::kError:
    case RespType::kBulkError:
      out.append("(error) ");
      AppendEscapedBody(out, d);
      AppendCut(out, *n);
      return;
    case RespType::kInteger: out.append("(integer) "); AppendEscapedBody(out, d); return;
    case RespType::kDouble: out.append("(double) "); AppendEscapedBody(out, d); return;
    case RespType::kBigNumber: out.append("(bignum) "); AppendEscapedBody(out, d); return;
    case RespType::kBoolean: out.append(d == "t" ? "(true)" : "(false)"); return;
    case RespType::kNull: out.append("(nil)"); return;
    case RespType::kBulkString:
    case RespType::kVerbatim:
      AppendQuoted(out, d);
      AppendCut(out, *n);
      return;
    case RespType::kArray:
    case RespType::kSet:
    case RespType::kPush:
    case RespType::kMap:
    case RespType::kAttribute: {
      const bool map = n->type == RespType::kMap;
      out.append(n->type == RespType::kSet ? "~[" : n->type == RespType::kPush ? ">[" : map ? "{" : "[");
      const ValueNode* c = Message::first_child(n);
      for (uint32_t i = 0; i < n->children; ++i, c = Message::next_sibling(c)) {
        if (i != 0) out.append(map && i % 2 == 1 ? ": " : ", ");
        AppendValue(out, m, c, hide);
      }
      if (n->elided != 0) absl::StrAppend(&out, n->children != 0 ? ", " : "", "...(+", n->elided, " more)");
      out.append(map ? "}" : "]");
      return;
    }
  }
}

}  // namespace

void TextSink::AppendClock(std::string& out, int64_t ts_ns) {
  const int64_t secs = ts_ns / 1000000000;
  // localtime_r costs more than the rest of a line: once per second of capture time.
  if (secs != clock_second_) {
    const time_t t = static_cast<time_t>(secs);
    struct tm tm;
    localtime_r(&t, &tm);
    snprintf(clock_text_, sizeof clock_text_, "%02d:%02d:%02d.", tm.tm_hour, tm.tm_min, tm.tm_sec);
    clock_second_ = secs;
  }
  out.append(clock_text_, 9);
  uint64_t us = static_cast<uint64_t>(ts_ns / 1000) % 1000000;
  char buf[6];
  for (int i = 5; i >= 0; --i, us /= 10) buf[i] = static_cast<char>('0' + us % 10);
  out.append(buf, 6);
}

TextSink::TextSink(std::FILE* out, Redaction redaction)
    : out_(out), redact_values_(redaction == Redaction::kValues) {}

TextSink::~TextSink() { out_.Flush().IgnoreError(); }

void TextSink::Write(const Record& r) {
  std::string& o = line_;
  o.clear();
  AppendClock(o, r.ts_ns());
  o.push_back(' ');
  o.append(r.client_name);
  if (r.kind == RecordKind::kGap) {
    o.append(r.gap_in_requests ? " -> " : " <- ");
    o.append(r.server_name);
    o.append(" gap: ");
    o.append(std::to_string(r.gap_bytes));
    o.append(r.gap_in_requests ? " bytes of requests lost\n" : " bytes of replies lost\n");
    out_.Append(o);
    out_.MaybeFlush();
    return;
  }
  if (r.kind == RecordKind::kPush) {
    o.append(" <- ");
    o.append(r.server_name);
    o.append(" push ");
    AppendValue(o, *r.reply, r.reply->root(), redact_values_);
    o.push_back('\n');
    out_.Append(o);
    out_.MaybeFlush();
    return;
  }
  o.append(" -> ");
  o.append(r.server_name);
  o.push_back(' ');
  const Message& req = *r.request;
  const ValueNode* root = req.root();
  if (!r.malformed.empty()) {
    o.append("(malformed request: ").append(r.malformed).append(")");
  } else if (root != nullptr && root->type == RespType::kArray) {
    const ValueNode* c = Message::first_child(root);
    if (redact_values_) visible_.Reset(r);
    for (uint32_t i = 0; i < root->children; ++i, c = Message::next_sibling(c)) {
      if (i != 0) o.push_back(' ');
      if (i == 0 && IsBare(req.data(*c))) {
        for (char ch : req.data(*c)) o.push_back(ch >= 'a' && ch <= 'z' ? static_cast<char>(ch - 32) : ch);
        AppendCut(o, *c);
      } else {
        AppendArg(o, req, *c, redact_values_ && i != 0 && !visible_[i - 1]);
      }
    }
    if (root->elided != 0) absl::StrAppend(&o, " ...(+", root->elided, " more)");
  }
  if (r.reply != nullptr) {
    o.append(" -> ");
    AppendValue(o, *r.reply, r.reply->root(), redact_values_);
    // A pub/sub command's other confirmations follow its first.
    for (size_t i = 1; i < r.replies.size(); ++i) {
      o.append(", ");
      AppendValue(o, *r.replies[i], r.replies[i]->root(), redact_values_);
    }
    const int64_t ns = r.latency_ns();
    char buf[48];
    const int len = snprintf(buf, sizeof buf, " (%lld.%03lld ms)", static_cast<long long>(ns / 1000000),
                             static_cast<long long>((ns / 1000) % 1000));
    o.append(buf, len);
    if (r.last_reply()->cut_short) o.append(" (reply cut short)");
  } else {
    o.append(" -> (no reply: ").append(NoReplyName(r.no_reply)).append(")");
  }
  if (r.transaction != TxOutcome::kNone) {
    o.append(" [").append(TxOutcomeName(r.transaction));
    if (r.exec_result != nullptr) {
      o.append(" -> ");
      AppendValue(o, *r.exec_reply, r.exec_result, redact_values_);
    }
    o.push_back(']');
  }
  o.push_back('\n');
  out_.Append(o);
  out_.MaybeFlush();
}

absl::Status TextSink::Flush() { return out_.Flush(); }

}  // namespace resptrace

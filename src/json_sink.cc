#include "resptrace/json_sink.h"

#include <array>
#include <cstring>

namespace resptrace {
namespace {

// Plain stores into room the sink reserved for the whole record (see RecordBound).
class Out {
 public:
  explicit Out(char* p) : p_(p) {}
  void push_back(char c) { *p_++ = c; }
  void append(const char* s, size_t n) {
    std::memcpy(p_, s, n);
    p_ += n;
  }
  void append(std::string_view s) { append(s.data(), s.size()); }
  void append(const char* s, const char* end) { append(s, static_cast<size_t>(end - s)); }
  char* end() const { return p_; }

 private:
  char* p_;
};

// What one value can take at most: every byte escaped as \u00XX (base64 takes less), and
// the brackets, separators and "truncated"/"len"/"missing"/"more" wrapping of a node.
constexpr size_t kBytesPerDataByte = 6;
constexpr size_t kBytesPerNode = 128;

size_t MessageBound(const Message* m) {
  return m == nullptr ? 0 : m->nodes().size() * kBytesPerNode + m->kept_bytes() * kBytesPerDataByte;
}

size_t NodeBound(const ValueNode& n) { return kBytesPerNode + n.data_len * kBytesPerDataByte; }

// A value's nodes, its subtree's, in preorder: one after the other.
size_t SubtreeBound(const ValueNode* n) {
  if (n == nullptr) return 0;
  size_t bound = 0;
  for (uint32_t i = 0; i < n->subtree; ++i) bound += NodeBound(n[i]);
  return bound;
}

// What a command's subcmd and keys can take: its arguments written a second time.
size_t CommandFieldsBound(const Record& r) {
  if (r.kind != RecordKind::kCommand || (r.command == nullptr && !r.unknown_command)) return 0;
  const ValueNode* root = r.request->root();
  size_t bound = r.has_subcommand ? NodeBound(root[2]) : 0;
  for (uint32_t i : r.key_args) bound += NodeBound(root[i + 2]);
  return bound;
}

void AppendJsonString(Out& out, std::string_view s);

// "00" to "99": two digits per division.
constexpr std::array<char, 200> kDigitPairs = [] {
  std::array<char, 200> pairs{};
  for (int i = 0; i < 100; ++i) {
    pairs[2 * i] = static_cast<char>('0' + i / 10);
    pairs[2 * i + 1] = static_cast<char>('0' + i % 10);
  }
  return pairs;
}();

// Written here rather than with std::to_chars, whose inlining the optimiser gives up as
// JsonSink::Write grows: numbers are a third of a record's bytes.
void AppendUint(Out& out, uint64_t v) {
  char buf[20];
  char* p = buf + sizeof buf;
  for (; v >= 100; v /= 100) {
    p -= 2;
    std::memcpy(p, &kDigitPairs[2 * (v % 100)], 2);
  }
  if (v >= 10) {
    p -= 2;
    std::memcpy(p, &kDigitPairs[2 * v], 2);
  } else {
    *--p = static_cast<char>('0' + v);
  }
  out.append(p, buf + sizeof buf);
}

// `v` (< 10^digits) with leading zeros.
void AppendFixed(Out& out, uint64_t v, int digits) {
  char buf[8];
  for (int i = digits - 1; i >= 0; --i, v /= 10) buf[i] = static_cast<char>('0' + v % 10);
  out.append(buf, digits);
}

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
  // Most values are ASCII: eight bytes a step while no byte has its high bit set.
  while (end - p >= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    if ((w & 0x8080808080808080ull) != 0) break;
    p += 8;
  }
  while (p < end) {
    unsigned char c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    int n;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      n = 1;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      n = 2;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (end - p < n + 1) return false;
    for (int i = 1; i <= n; ++i) {
      if ((p[i] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (p[i] & 0x3F);
    }
    // Overlong forms, surrogates and values past U+10FFFF are not valid UTF-8.
    static constexpr uint32_t kMin[] = {0, 0x80, 0x800, 0x10000};
    if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    p += n + 1;
  }
  return true;
}

void AppendBase64(Out& out, std::string_view s) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t i = 0;
  for (; i + 3 <= s.size(); i += 3) {
    const uint32_t v = (p[i] << 16) | (p[i + 1] << 8) | p[i + 2];
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(kAlphabet[(v >> 6) & 63]);
    out.push_back(kAlphabet[v & 63]);
  }
  if (i < s.size()) {
    const bool two = i + 1 < s.size();
    const uint32_t v = (p[i] << 16) | (two ? p[i + 1] << 8 : 0);
    out.push_back(kAlphabet[v >> 18]);
    out.push_back(kAlphabet[(v >> 12) & 63]);
    out.push_back(two ? kAlphabet[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
}

void AppendEscaped(Out& out, std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  out.push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out.append("\\\""); break;
      case '\\': out.append("\\\\"); break;
      case '\n': out.append("\\n"); break;
      case '\r': out.append("\\r"); break;
      case '\t': out.append("\\t"); break;
      default:
        out.append("\\u00");
        out.push_back(kHex[c >> 4]);
        out.push_back(kHex[c & 0xF]);
    }
  }
  out.append(s.data() + run, s.size() - run);
  out.push_back('"');
}

// A RESP number is written as a JSON number when JSON can hold it as written.
bool IsJsonNumber(std::string_view s) {
  size_t i = 0;
  if (i < s.size() && s[i] == '-') ++i;
  if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
  if (s[i] == '0' && i + 1 < s.size() && s[i + 1] >= '0' && s[i + 1] <= '9') return false;
  while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  }
  if (i < s.size() && (s[i] == 'e' || s[i] == 'E')) {
    ++i;
    if (i < s.size() && (s[i] == '+' || s[i] == '-')) ++i;
    if (i >= s.size() || s[i] < '0' || s[i] > '9') return false;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9') ++i;
  }
  return i == s.size();
}

void AppendNumber(Out& out, std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (IsJsonNumber(s)) {
    out.append(s);
  } else {
    AppendJsonString(out, s);  // inf, -inf, nan, or a number JSON cannot spell
  }
}

// A string value, cut or not.
void AppendStringValue(Out& out, const ValueNode& n, std::string_view data) {
  if (!n.truncated) {
    AppendJsonString(out, data);
    return;
  }
  // Cut values keep their prefix and say how long the value really was.
  if (IsValidUtf8(data)) {
    out.append("{\"truncated\":");
    AppendEscaped(out, data);
  } else {
    out.append("{\"truncated_b64\":\"");
    AppendBase64(out, data);
    out.push_back('"');
  }
  out.append(",\"len\":");
  AppendUint(out, n.full_len);
  if (n.missing != 0) {
    out.append(",\"missing\":");
    AppendUint(out, n.missing);
  }
  out.push_back('}');
}

// --redact-values: a value shown only by its length on the wire (an error also by its code).
void AppendHidden(Out& out, const ValueNode& n, std::string_view code) {
  out.append("{\"redacted\":true,\"len\":");
  AppendUint(out, n.full_len);
  if (n.missing != 0) {
    out.append(",\"missing\":");
    AppendUint(out, n.missing);
  }
  if (!code.empty()) {
    out.append(",\"prefix\":\"");
    out.append(code);  // upper-case letters only: nothing to escape
    out.push_back('"');
  }
  out.push_back('}');
}

// `hide`: the value is shown as hidden (--redact-values), its aggregates' elements too.
void AppendValue(Out& out, const Message& m, const ValueNode* n, bool hide);

void AppendChildren(Out& out, const Message& m, const ValueNode* n, bool pairs, bool hide) {
  out.push_back('[');
  const ValueNode* c = Message::first_child(n);
  for (uint32_t i = 0; i < n->children; ++i, c = Message::next_sibling(c)) {
    if (i != 0) out.push_back(',');
    if (pairs && i % 2 == 0) out.push_back('[');
    AppendValue(out, m, c, hide);
    if (pairs && i % 2 == 1) out.push_back(']');
  }
  if (pairs && n->children % 2 == 1) out.push_back(']');
  if (n->elided != 0) {
    if (n->children != 0) out.push_back(',');
    out.append("{\"more\":");
    AppendUint(out, pairs ? n->elided / 2 : n->elided);
    out.push_back('}');
  }
  out.push_back(']');
}

void AppendValue(Out& out, const Message& m, const ValueNode* n, bool hide) {
  if (n->secret) {
    out.append("{\"redacted\":true}");
    return;
  }
  std::string_view data = m.data(*n);
  if (hide && IsHiddenValue(*n, data)) {
    const bool error = n->type == RespType::kError || n->type == RespType::kBulkError;
    if (error) out.append("{\"error\":");
    AppendHidden(out, *n, error ? ErrorCode(*n, data) : std::string_view());
    if (error) out.push_back('}');
    return;
  }
  switch (n->type) {
    case RespType::kSimpleString:
    case RespType::kBulkString:
    case RespType::kBigNumber:
      AppendStringValue(out, *n, data);
      return;
    case RespType::kVerbatim:
      // The first four bytes name the format ("txt:"); the value is what follows.
      if (data.size() >= 4 && data[3] == ':') data.remove_prefix(4);
      AppendStringValue(out, *n, data);
      return;
    case RespType::kError:
    case RespType::kBulkError:
      out.append("{\"error\":");
      AppendStringValue(out, *n, data);
      out.push_back('}');
      return;
    case RespType::kInteger:
    case RespType::kDouble:
      AppendNumber(out, data);
      return;
    case RespType::kNull:
      out.append("null");
      return;
    case RespType::kBoolean:
      out.append(data == "t" ? "true" : "false");
      return;
    case RespType::kMap:
      AppendChildren(out, m, n, /*pairs=*/true, hide);
      return;
    case RespType::kArray:
    case RespType::kSet:
    case RespType::kPush:
    case RespType::kAttribute:
      AppendChildren(out, m, n, /*pairs=*/false, hide);
      return;
  }
}

void AppendTimestamp(Out& out, int64_t ts_ns) {
  const uint64_t us = static_cast<uint64_t>(ts_ns < 0 ? 0 : ts_ns) / 1000;
  AppendUint(out, us / 1000000);
  out.push_back('.');
  AppendFixed(out, us % 1000000, 6);
}

void AppendMicros(Out& out, int64_t ns) {
  if (ns < 0) {  // a reply captured before its request: a capture merged from several clocks
    out.push_back('-');
    ns = -ns;
  }
  AppendUint(out, static_cast<uint64_t>(ns) / 1000);
  if (ns % 1000 != 0) {
    out.push_back('.');
    AppendFixed(out, static_cast<uint64_t>(ns) % 1000, 3);
  }
}

void UpperAscii(std::string& to, std::string_view s) {
  to.assign(s.data(), s.size());
  for (char& c : to) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 32);
  }
}

void AppendJsonString(Out& out, std::string_view s) {
  if (IsValidUtf8(s)) {
    AppendEscaped(out, s);
  } else {
    out.append("{\"b64\":\"");
    AppendBase64(out, s);
    out.append("\"}");
  }
}

}  // namespace

JsonSink::JsonSink(std::FILE* out, Redaction redaction)
    : out_(out), redact_values_(redaction == Redaction::kValues) {}

JsonSink::~JsonSink() { out_.Flush().IgnoreError(); }

void JsonSink::Write(const Record& r) {
  size_t bound = 1024 + r.client_name.size() + r.server_name.size() + MessageBound(r.request) +
                 MessageBound(r.reply) + CommandFieldsBound(r) + SubtreeBound(r.exec_result);
  for (const Message* m : r.replies) bound += MessageBound(m) + 1;
  Out o(out_.Reserve(bound));
  o.append(r.kind == RecordKind::kPush  ? "{\"type\":\"push\",\"ts\":"
           : r.kind == RecordKind::kGap ? "{\"type\":\"gap\",\"ts\":"
                                        : "{\"type\":\"command\",\"ts\":");
  AppendTimestamp(o, r.ts_ns());
  o.append(",\"client\":\"");
  o.append(r.client_name);
  o.append("\",\"server\":\"");
  o.append(r.server_name);
  o.push_back('"');
  if (r.kind == RecordKind::kGap) {
    o.append(r.gap_in_requests ? ",\"stream\":\"requests\",\"bytes\":" : ",\"stream\":\"replies\",\"bytes\":");
    AppendUint(o, r.gap_bytes);
    o.append("}\n");
    out_.Commit(o.end());
    out_.MaybeFlush();
    return;
  }
  if (r.kind == RecordKind::kCommand) {
    const Message& req = *r.request;
    const ValueNode* root = req.root();
    o.append(",\"cmd\":");
    if (root != nullptr && root->type == RespType::kArray && root->children > 0) {
      const ValueNode* c = Message::first_child(root);
      UpperAscii(scratch_, req.data(*c));
      AppendStringValue(o, *c, scratch_);
      o.append(",\"args\":[");
      c = Message::next_sibling(c);
      if (redact_values_) visible_.Reset(r);
      for (uint32_t i = 1; i < root->children; ++i, c = Message::next_sibling(c)) {
        if (i != 1) o.push_back(',');
        AppendValue(o, req, c, redact_values_ && !visible_[i - 1]);
      }
      if (root->elided != 0) {
        if (root->children > 1) o.push_back(',');
        o.append("{\"more\":");
        AppendUint(o, root->elided);
        o.push_back('}');
      }
      o.push_back(']');
      if (r.has_subcommand) {
        c = root + 2;
        UpperAscii(scratch_, req.data(*c));
        o.append(",\"subcmd\":");
        AppendStringValue(o, *c, scratch_);
      }
      if (r.command != nullptr || r.unknown_command) {
        o.append(",\"keys\":[");
        for (size_t i = 0; i < r.key_args.size(); ++i) {
          if (i != 0) o.push_back(',');
          AppendValue(o, req, root + 2 + r.key_args[i], /*hide=*/false);
        }
        o.push_back(']');
      }
      if (r.unknown_command) o.append(",\"unknown\":true");
    } else {
      o.append("\"\",\"args\":[]");
    }
    if (req.inline_command) o.append(",\"inline\":true");
    if (req.cut_short) o.append(",\"request_cut\":true");
    if (!r.malformed.empty()) {
      o.append(",\"malformed\":\"");
      o.append(r.malformed);
      o.push_back('"');
    }
  }
  o.append(",\"reply_type\":");
  const ValueNode* reply_root = r.reply != nullptr ? r.reply->root() : nullptr;
  if (reply_root != nullptr) {
    o.push_back('"');
    o.append(RespTypeName(reply_root->type));
    o.append("\",\"reply\":");
    AppendValue(o, *r.reply, reply_root, redact_values_);
    const std::string_view error_prefix = r.reply->error_prefix.view();
    if (!error_prefix.empty()) {
      o.append(",\"error_prefix\":\"");
      o.append(error_prefix);  // upper-case letters only: nothing to escape
      o.push_back('"');
    }
  } else {
    o.append("\"none\",\"reply\":null");
  }
  if (r.kind == RecordKind::kCommand) {
    o.append(",\"latency_us\":");
    if (r.reply != nullptr) {
      AppendMicros(o, r.latency_ns());
    } else {
      o.append("null");
    }
    o.append(",\"req_bytes\":");
    AppendUint(o, r.request->wire_bytes);
    o.append(",\"reply_bytes\":");
    AppendUint(o, r.reply_bytes());
    if (r.reply != nullptr && r.last_reply()->cut_short) o.append(",\"reply_cut\":true");
    if (!r.replies.empty()) {
      o.append(",\"replies\":[");
      for (size_t i = 0; i < r.replies.size(); ++i) {
        if (i != 0) o.push_back(',');
        AppendValue(o, *r.replies[i], r.replies[i]->root(), redact_values_);
      }
      o.push_back(']');
    }
    if (r.no_reply != NoReply::kAnswered) {
      o.append(",\"no_reply\":\"");
      o.append(NoReplyName(r.no_reply));
      o.push_back('"');
    }
    if (r.transaction != TxOutcome::kNone) {
      o.append(",\"transaction\":\"");
      o.append(TxOutcomeName(r.transaction));
      o.push_back('"');
      if (r.exec_result != nullptr) {
        o.append(",\"exec_result\":");
        AppendValue(o, *r.exec_reply, r.exec_result, redact_values_);
      }
    }
  } else {
    o.append(",\"reply_bytes\":");
    AppendUint(o, r.reply->wire_bytes);
  }
  o.append("}\n");
  out_.Commit(o.end());
  out_.MaybeFlush();
}

absl::Status JsonSink::Flush() { return out_.Flush(); }

}  // namespace resptrace

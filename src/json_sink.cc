#include "resptrace/json_sink.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace resptrace {
namespace {

bool IsValidUtf8(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const auto* end = p + s.size();
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

void AppendBase64(std::string& out, std::string_view s) {
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

void AppendEscaped(std::string& out, std::string_view s) {
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

void AppendNumber(std::string& out, std::string_view s) {
  if (!s.empty() && s[0] == '+') s.remove_prefix(1);
  if (IsJsonNumber(s)) {
    out.append(s);
  } else {
    AppendJsonString(out, s);  // inf, -inf, nan, or a number JSON cannot spell
  }
}

// A string value, cut or not.
void AppendStringValue(std::string& out, const ValueNode& n, std::string_view data) {
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
  absl::StrAppend(&out, ",\"len\":", n.full_len);
  if (n.missing != 0) absl::StrAppend(&out, ",\"missing\":", n.missing);
  out.push_back('}');
}

void AppendValue(std::string& out, const Message& m, const ValueNode* n);

void AppendChildren(std::string& out, const Message& m, const ValueNode* n, bool pairs) {
  out.push_back('[');
  const ValueNode* c = Message::first_child(n);
  for (uint32_t i = 0; i < n->children; ++i, c = Message::next_sibling(c)) {
    if (i != 0) out.push_back(',');
    if (pairs && i % 2 == 0) out.push_back('[');
    AppendValue(out, m, c);
    if (pairs && i % 2 == 1) out.push_back(']');
  }
  if (pairs && n->children % 2 == 1) out.push_back(']');
  if (n->elided != 0) {
    if (n->children != 0) out.push_back(',');
    absl::StrAppend(&out, "{\"more\":", pairs ? n->elided / 2 : n->elided, "}");
  }
  out.push_back(']');
}

void AppendValue(std::string& out, const Message& m, const ValueNode* n) {
  std::string_view data = m.data(*n);
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
      AppendChildren(out, m, n, /*pairs=*/true);
      return;
    case RespType::kArray:
    case RespType::kSet:
    case RespType::kPush:
    case RespType::kAttribute:
      AppendChildren(out, m, n, /*pairs=*/false);
      return;
  }
}

void AppendTimestamp(std::string& out, int64_t ts_ns) {
  const int64_t us = ts_ns / 1000;
  char buf[32];
  const int len = snprintf(buf, sizeof buf, "%lld.%06lld", static_cast<long long>(us / 1000000),
                           static_cast<long long>(us % 1000000));
  out.append(buf, len);
}

void AppendMicros(std::string& out, int64_t ns) {
  if (ns % 1000 == 0) {
    absl::StrAppend(&out, ns / 1000);
    return;
  }
  char buf[32];
  const int len = snprintf(buf, sizeof buf, "%.3f", static_cast<double>(ns) / 1000.0);
  out.append(buf, len);
}

void AppendUpperAscii(std::string& out, std::string_view s) {
  for (char c : s) out.push_back(c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c);
}

}  // namespace

void AppendJsonString(std::string& out, std::string_view s) {
  if (IsValidUtf8(s)) {
    AppendEscaped(out, s);
  } else {
    out.append("{\"b64\":\"");
    AppendBase64(out, s);
    out.append("\"}");
  }
}

JsonSink::JsonSink(std::FILE* out) : out_(out) {}

JsonSink::~JsonSink() { out_.Flush().IgnoreError(); }

void JsonSink::Write(const Record& r) {
  std::string& o = out_.text();
  o.append(r.kind == RecordKind::kPush ? "{\"type\":\"push\",\"ts\":" : "{\"type\":\"command\",\"ts\":");
  AppendTimestamp(o, r.ts_ns());
  o.append(",\"client\":\"");
  r.client->AppendTo(o);
  o.append("\",\"server\":\"");
  r.server->AppendTo(o);
  o.push_back('"');
  if (r.kind == RecordKind::kCommand) {
    const Message& req = *r.request;
    const ValueNode* root = req.root();
    o.append(",\"cmd\":");
    if (root != nullptr && root->type == RespType::kArray && root->children > 0) {
      const ValueNode* c = Message::first_child(root);
      scratch_.clear();
      AppendUpperAscii(scratch_, req.data(*c));
      AppendStringValue(o, *c, scratch_);
      o.append(",\"args\":[");
      c = Message::next_sibling(c);
      for (uint32_t i = 1; i < root->children; ++i, c = Message::next_sibling(c)) {
        if (i != 1) o.push_back(',');
        AppendValue(o, req, c);
      }
      if (root->elided != 0) {
        if (root->children > 1) o.push_back(',');
        absl::StrAppend(&o, "{\"more\":", root->elided, "}");
      }
      o.push_back(']');
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
    AppendValue(o, *r.reply, reply_root);
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
    absl::StrAppend(&o, ",\"req_bytes\":", r.request->wire_bytes,
                    ",\"reply_bytes\":", r.reply != nullptr ? r.reply->wire_bytes : 0);
    if (r.reply != nullptr && r.reply->cut_short) o.append(",\"reply_cut\":true");
    if (r.no_reply != NoReply::kAnswered) {
      o.append(",\"no_reply\":\"");
      o.append(NoReplyName(r.no_reply));
      o.push_back('"');
    }
  } else {
    absl::StrAppend(&o, ",\"reply_bytes\":", r.reply->wire_bytes);
  }
  o.append("}\n");
  out_.MaybeFlush();
}

absl::Status JsonSink::Flush() { return out_.Flush(); }

}  // namespace resptrace

#include "record_checker.h"

#include <functional>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace resptrace {
namespace {

// The text sink's output is not checked, only produced: its bytes go nowhere.
std::FILE* DevNull() {
  static std::FILE* const f = std::fopen("/dev/null", "w");
  return f;
}

// "" when `m`'s nodes are a well-formed preorder tree over its kept bytes; else what is not.
std::string CheckMessage(const Message& m, bool ordered_ts) {
  if (ordered_ts && m.last_ts_ns < m.first_ts_ns) {
    return absl::StrCat("last byte at ", m.last_ts_ns, " before first at ", m.first_ts_ns);
  }
  const auto& nodes = m.nodes();
  if (nodes.empty()) return "";
  if (nodes[0].subtree != nodes.size()) {
    return absl::StrCat("root subtree ", nodes[0].subtree, " of ", nodes.size(), " nodes");
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const ValueNode& n = nodes[i];
    if (n.subtree == 0 || i + n.subtree > nodes.size()) {
      return absl::StrCat("node ", i, " subtree ", n.subtree, " past ", nodes.size(), " nodes");
    }
    if (IsAggregate(n.type)) {
      uint32_t children = 0;
      size_t c = i + 1;
      while (c < i + n.subtree) {
        c += nodes[c].subtree == 0 ? 1 : nodes[c].subtree;
        ++children;
      }
      if (c != i + n.subtree || children != n.children) {
        return absl::StrCat("aggregate node ", i, " says ", n.children, " children, has ",
                            children);
      }
      continue;
    }
    if (n.subtree != 1 || n.children != 0) return absl::StrCat("scalar node ", i, " has children");
    if (uint64_t{n.data_off} + n.data_len > m.kept_bytes()) {
      return absl::StrCat("scalar node ", i, " data past the kept bytes");
    }
    if (n.data_len > n.full_len || n.missing > n.full_len) {
      return absl::StrCat("scalar node ", i, " keeps ", n.data_len, " bytes, misses ", n.missing,
                          ", of ", n.full_len);
    }
  }
  return "";
}

}  // namespace

struct RecordChecker::Outputs {
  explicit Outputs(Redaction redaction)
      : json_file(open_memstream(&json_text, &json_len)),
        json(json_file, redaction),
        text(DevNull(), redaction) {}
  char* json_text = nullptr;  // open_memstream's buffer, json_len bytes long
  size_t json_len = 0;
  std::FILE* json_file;
  JsonSink json;
  TextSink text;
};

RecordChecker::Outputs& RecordChecker::OutputsFor(Redaction redaction) {
  // Never destroyed: the sinks outlive every checker.
  static Outputs* const secrets = new Outputs(Redaction::kSecrets);
  static Outputs* const values = new Outputs(Redaction::kValues);
  return redaction == Redaction::kValues ? *values : *secrets;
}

RecordChecker::RecordChecker(Redaction redaction, bool ordered_ts, bool printed)
    : ordered_ts_(ordered_ts), out_(printed ? &OutputsFor(redaction) : nullptr) {
  if (out_ == nullptr) return;
  // Each checker reads only its own records' JSON: what an earlier one left unflushed (it
  // stopped at a broken promise) is written, then written over.
  Flush().IgnoreError();
  std::fflush(out_->json_file);
  std::fseek(out_->json_file, 0, SEEK_SET);
}

RecordChecker::~RecordChecker() = default;

void RecordChecker::Fail(std::string why) {
  if (status_.ok()) status_ = absl::InternalError(why);
}

void RecordChecker::Write(const Record& r) {
  Check(r);
  if (out_ == nullptr) return;
  out_->json.Write(r);
  out_->text.Write(r);
}

absl::Status RecordChecker::Flush() {
  if (out_ == nullptr) return absl::OkStatus();
  if (absl::Status s = out_->json.Flush(); !s.ok()) return s;
  return out_->text.Flush();
}

void RecordChecker::Check(const Record& r) {
  if (r.client == nullptr || r.server == nullptr || r.client_name.empty() ||
      r.server_name.empty()) {
    return Fail("record without its endpoints");
  }
  const auto check = [&](const Message* m, std::string_view what) {
    if (m == nullptr) return;
    if (std::string why = CheckMessage(*m, ordered_ts_); !why.empty()) {
      Fail(std::string(what) + ": " + why);
    }
  };
  if (r.kind == RecordKind::kGap) {
    if (r.request != nullptr || r.reply != nullptr || r.gap_bytes == 0) {
      return Fail("a gap record with a message, or of no bytes");
    }
    ++gaps_;
    gap_bytes_ += r.gap_bytes;
    return;
  }
  if (r.kind == RecordKind::kPush) {
    ++pushes_;
    if (r.request != nullptr || r.reply == nullptr || r.no_reply != NoReply::kAnswered ||
        !r.replies.empty() || r.transaction != TxOutcome::kNone) {
      return Fail("a push record with a request, without its value, or marked unanswered");
    }
    return check(r.reply, "push");
  }
  ++commands_;
  if (r.request == nullptr) return Fail("a command record without its request");
  if ((r.reply != nullptr) != (r.no_reply == NoReply::kAnswered)) {
    return Fail(absl::StrCat("reply ", r.reply != nullptr, " with no_reply \"",
                             std::string(NoReplyName(r.no_reply)), "\""));
  }
  if (r.reply != nullptr) ++answered_;
  if (!r.replies.empty() && r.replies[0] != r.reply) {
    return Fail("a pub/sub command's first confirmation is not its reply");
  }
  if (!r.malformed.empty() && r.request->root() != nullptr) {
    return Fail("a malformed request holding a value");
  }
  const size_t request_nodes = r.request->nodes().size();
  if ((r.command != nullptr || r.unknown_command) && request_nodes < 2) {
    return Fail("a command looked up without a name");
  }
  if (r.has_subcommand && request_nodes < 3) return Fail("a subcommand past the arguments");
  for (uint32_t i : r.key_args) {
    if (uint64_t{i} + 2 >= request_nodes) {
      return Fail(absl::StrCat("key argument ", i, " past the ", request_nodes, " nodes kept"));
    }
  }
  if (r.exec_result != nullptr) {
    if (r.transaction != TxOutcome::kExec || r.exec_reply == nullptr) {
      return Fail("an EXEC result without EXEC's reply");
    }
    // Pointers into another array compare only through std::less.
    const ValueNode* begin = r.exec_reply->nodes().data();
    const ValueNode* end = begin + r.exec_reply->nodes().size();
    const std::less<const ValueNode*> before;
    if (before(r.exec_result, begin) || !before(r.exec_result, end) ||
        r.exec_result->subtree > end - r.exec_result) {
      return Fail("an EXEC result outside EXEC's reply");
    }
  }
  check(r.request, "request");
  check(r.reply, "reply");
  for (const Message* m : r.replies) check(m, "confirmation");
  check(r.exec_reply, "EXEC reply");
  if (ordered_ts_ && r.reply != nullptr && r.latency_ns() < 0) {
    Fail(absl::StrCat("negative latency ", r.latency_ns()));
  }
}

absl::Status RecordChecker::Finish() {
  if (out_ == nullptr) return status_;
  if (absl::Status s = Flush(); !s.ok()) Fail(absl::StrCat("sink: ", s.message()));
  std::fflush(out_->json_file);
  const std::string_view text(out_->json_text == nullptr ? "" : out_->json_text, out_->json_len);
  uint64_t lines = 0;
  for (size_t pos = 0; pos < text.size();) {
    size_t eol = text.find('\n', pos);
    if (eol == std::string_view::npos) {
      Fail("JSON output not ending in a newline");
      break;
    }
    const std::string_view line = text.substr(pos, eol - pos);
    if (!nlohmann::json::accept(line)) Fail(absl::StrCat("JSON line ", lines, " is not JSON"));
    ++lines;
    pos = eol + 1;
  }
  if (lines != commands_ + pushes_ + gaps_) {
    Fail(absl::StrCat(lines, " JSON lines for ", commands_ + pushes_ + gaps_, " records"));
  }
  return status_;
}

}  // namespace resptrace

#include "resptrace/resp_parser.h"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace resptrace {

// Reads the parser's private buffers, to check that hostile input cannot grow them.
class RespParserTestPeer {
 public:
  static size_t line_size(const RespParser& p) { return p.line_.size(); }
  static size_t line_capacity(const RespParser& p) { return p.line_.capacity(); }
  static size_t inline_args_size(const RespParser& p) { return p.inline_args_.size(); }
  static size_t stack_size(const RespParser& p) { return p.stack_.size(); }
  static size_t stack_capacity(const RespParser& p) { return p.stack_.capacity(); }
};

namespace {

using ::testing::ElementsAre;

// Distinct names for the trace (RespTypeName calls a bulk error an "error").
std::string_view Tag(RespType t) {
  switch (t) {
    case RespType::kSimpleString: return "simple";
    case RespType::kError: return "error";
    case RespType::kInteger: return "int";
    case RespType::kBulkString: return "bulk";
    case RespType::kNull: return "null";
    case RespType::kArray: return "array";
    case RespType::kMap: return "map";
    case RespType::kSet: return "set";
    case RespType::kDouble: return "double";
    case RespType::kBoolean: return "bool";
    case RespType::kBigNumber: return "bignum";
    case RespType::kVerbatim: return "verbatim";
    case RespType::kPush: return "push";
    case RespType::kAttribute: return "attr";
    case RespType::kBulkError: return "bulkerr";
  }
  return "?";
}

std::string Escape(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      absl::StrAppend(&out, "\\x", absl::Hex(c, absl::kZeroPad2));
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// A value tree of one message, for checks on whole commands and replies.
struct Node {
  RespType type = RespType::kNull;
  std::string data;
  std::vector<Node> children;
};

// Turns events into a compact trace, e.g. `< array:2 bulk"GET" bulk"k" >22`, a value
// tree per message, and checks that the events are well-formed: pieces in order, values
// nested as the counts say, OnMessageEnd exactly after the top-level value.
class Recorder : public RespHandler {
 public:
  std::string trace;
  std::vector<Node> messages;
  std::vector<bool> inline_flags;
  std::vector<int64_t> begin_ts, end_ts, error_ts, resync_ts;
  std::vector<uint64_t> wire_bytes;
  std::vector<RespError> errors;
  std::vector<std::string_view> pieces;  // every piece's data, to check where it points

  void OnMessageBegin(int64_t ts_ns, bool inline_command) override {
    EXPECT_FALSE(in_message_) << trace;
    in_message_ = true;
    top_done_ = false;
    Add(inline_command ? "<i" : "<");
    begin_ts.push_back(ts_ns);
    inline_flags.push_back(inline_command);
    root_ = Node{};
    open_.clear();
    open_.push_back(Open{&root_, 1, false});
  }
  void OnAggregate(RespType type, int64_t count) override {
    EXPECT_TRUE(in_message_) << trace;
    EXPECT_FALSE(in_value_) << trace;
    EXPECT_FALSE(top_done_) << trace;
    Add(std::string(Tag(type)) + ":" + std::to_string(count));
    Node* n = &Parent().children.emplace_back();
    n->type = type;
    if (count == 0) {
      ValueDone(type == RespType::kAttribute);
    } else {
      open_.push_back(Open{n, count, type == RespType::kAttribute});
    }
  }
  void OnScalar(const ScalarPiece& p) override {
    EXPECT_TRUE(in_message_) << trace;
    EXPECT_FALSE(top_done_) << trace;
    pieces.push_back(p.data);
    if (p.first) {
      EXPECT_FALSE(in_value_) << trace;
      in_value_ = true;
      value_.clear();
      raw_.clear();
      value_len_ = 0;
      declared_ = p.declared_len;
    } else {
      EXPECT_TRUE(in_value_) << trace;
      EXPECT_EQ(declared_, p.declared_len);
    }
    value_ += Escape(p.data);
    raw_ += p.data;
    if (p.missing > 0) absl::StrAppend(&value_, "{-", p.missing, "}");
    value_len_ += p.data.size() + p.missing;
    if (!p.last) return;
    in_value_ = false;
    if (value_len_ != static_cast<uint64_t>(declared_)) {
      // Only a simple string or an error split across pieces is held in part
      // (RespLimits::max_kept_line): "<bytes held>...(<full length>)".
      EXPECT_TRUE(p.type == RespType::kSimpleString || p.type == RespType::kError) << trace;
      EXPECT_LT(value_len_, static_cast<uint64_t>(declared_)) << trace;
      absl::StrAppend(&value_, "...(", declared_, ")");
    }
    Add(p.type == RespType::kNull ? std::string("null") : std::string(Tag(p.type)) + "\"" + value_ + "\"");
    Node& n = Parent().children.emplace_back();
    n.type = p.type;
    n.data = raw_;
    ValueDone(false);
  }
  void OnMessageEnd(int64_t ts_ns, uint64_t bytes) override {
    EXPECT_TRUE(in_message_) << trace;
    EXPECT_TRUE(top_done_) << trace;
    in_message_ = false;
    Add(absl::StrCat(">", bytes));
    end_ts.push_back(ts_ns);
    wire_bytes.push_back(bytes);
    // The synthetic root holds the top-level value, after any top-level attribute.
    messages.push_back(root_.children.back());
  }
  void OnProtocolError(RespError error, int64_t ts_ns, uint64_t) override {
    // Bytes lost while skipping to a boundary are reported too, as a gap of their own.
    EXPECT_TRUE(!resync_pending_ || error == RespError::kGap)
        << "two errors without a resync: " << trace;
    resync_pending_ = true;
    in_message_ = in_value_ = false;
    Add("!" + std::string(RespErrorName(error)));
    errors.push_back(error);
    error_ts.push_back(ts_ns);
  }
  void OnResync(uint64_t skipped, int64_t ts_ns) override {
    EXPECT_TRUE(resync_pending_) << trace;
    resync_pending_ = false;
    Add(absl::StrCat("~", skipped));
    resync_ts.push_back(ts_ns);
  }

 private:
  struct Open {
    Node* node;
    int64_t remaining;
    bool attribute;
  };
  Node& Parent() { return *open_.back().node; }
  void Add(std::string_view token) {
    if (!trace.empty()) trace += ' ';
    trace += token;
  }
  void ValueDone(bool was_attribute) {
    while (open_.size() > 1) {
      if (was_attribute) return;
      if (--open_.back().remaining > 0) return;
      was_attribute = open_.back().attribute;
      open_.pop_back();
    }
    if (!was_attribute) top_done_ = true;
  }

  bool in_message_ = false;
  bool in_value_ = false;
  bool top_done_ = false;
  bool resync_pending_ = false;
  std::string value_;
  std::string raw_;
  uint64_t value_len_ = 0;
  int64_t declared_ = 0;
  Node root_;
  std::vector<Open> open_;
};

std::vector<std::string> Args(const Node& n) {
  std::vector<std::string> out;
  for (const Node& c : n.children) out.push_back(c.data);
  return out;
}

std::string Parse(RespRole role, std::string_view input, const RespLimits& limits = {}) {
  Recorder r;
  RespParser parser(role, limits, &r);
  parser.Feed(input, 1);
  return r.trace;
}

// Feeds `input` in the given pieces, each a separate heap copy so that ASan catches a
// view kept past its Feed call.
std::string ParsePieces(RespRole role, const std::vector<std::string>& pieces,
                        const RespLimits& limits = {}) {
  Recorder r;
  RespParser parser(role, limits, &r);
  for (const std::string& piece : pieces) {
    auto copy = std::make_unique<char[]>(piece.size());
    std::memcpy(copy.get(), piece.data(), piece.size());
    parser.Feed(std::string_view(copy.get(), piece.size()), 1);
  }
  return r.trace;
}

// Parses `input` whole, then split at every offset, then byte by byte, checks that every
// way gives the same trace, and returns it.
std::string ParseAllSplits(RespRole role, std::string_view input, const RespLimits& limits = {}) {
  const std::string whole = Parse(role, input, limits);
  for (size_t i = 1; i < input.size(); ++i) {
    EXPECT_EQ(ParsePieces(role, {std::string(input.substr(0, i)), std::string(input.substr(i))}, limits),
              whole)
        << "split at " << i << " of \"" << Escape(input) << "\"";
  }
  std::vector<std::string> bytes;
  for (char c : input) bytes.emplace_back(1, c);
  EXPECT_EQ(ParsePieces(role, bytes, limits), whole) << "byte by byte: \"" << Escape(input) << "\"";
  return whole;
}

std::string Reply(std::string_view input) { return ParseAllSplits(RespRole::kReply, input); }
std::string Request(std::string_view input) { return ParseAllSplits(RespRole::kRequest, input); }

// --- Replies -------------------------------------------------------------------------

TEST(RespParserReply, SimpleTypes) {
  EXPECT_EQ(Reply("+OK\r\n"), "< simple\"OK\" >5");
  EXPECT_EQ(Reply("-ERR unknown command 'x'\r\n"), "< error\"ERR unknown command 'x'\" >26");
  EXPECT_EQ(Reply(":0\r\n:-42\r\n:9223372036854775807\r\n:-9223372036854775808\r\n"),
            "< int\"0\" >4 < int\"-42\" >6 < int\"9223372036854775807\" >22 "
            "< int\"-9223372036854775808\" >23");
  EXPECT_EQ(Reply("$11\r\nbulk string\r\n"), "< bulk\"bulk string\" >18");
  EXPECT_EQ(Reply("$0\r\n\r\n"), "< bulk\"\" >6");
  EXPECT_EQ(Reply("$7\r\n123\r\n45\r\n"), "< bulk\"123\\r\\n45\" >13");
  EXPECT_EQ(Reply("_\r\n"), "< null >3");
  EXPECT_EQ(Reply("$-1\r\n"), "< null >5");
  EXPECT_EQ(Reply("*-1\r\n"), "< null >5");
  EXPECT_EQ(Reply(",3.14\r\n,-1.5e10\r\n,inf\r\n,-inf\r\n,nan\r\n,10\r\n"),
            "< double\"3.14\" >7 < double\"-1.5e10\" >10 < double\"inf\" >6 < double\"-inf\" >7 "
            "< double\"nan\" >6 < double\"10\" >5");
  EXPECT_EQ(Reply("#t\r\n#f\r\n"), "< bool\"t\" >4 < bool\"f\" >4");
  EXPECT_EQ(Reply("(3492890328409238509324850943850943825024385\r\n"),
            "< bignum\"3492890328409238509324850943850943825024385\" >46");
  EXPECT_EQ(Reply("!21\r\nSYNTAX invalid syntax\r\n"), "< bulkerr\"SYNTAX invalid syntax\" >28");
  EXPECT_EQ(Reply("=15\r\ntxt:Some string\r\n"), "< verbatim\"txt:Some string\" >22");
}

TEST(RespParserReply, Aggregates) {
  EXPECT_EQ(Reply("*0\r\n"), "< array:0 >4");
  EXPECT_EQ(Reply("*3\r\n$3\r\nfoo\r\n$-1\r\n:23\r\n"), "< array:3 bulk\"foo\" null int\"23\" >23");
  EXPECT_EQ(Reply("*3\r\n*-1\r\n+foo\r\n*2\r\n:1\r\n+bar\r\n"),
            "< array:3 null simple\"foo\" array:2 int\"1\" simple\"bar\" >29");
  EXPECT_EQ(Reply("%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n#t\r\n"),
            "< map:4 simple\"a\" int\"1\" simple\"b\" array:1 bool\"t\" >24");
  EXPECT_EQ(Reply("%0\r\n"), "< map:0 >4");
  EXPECT_EQ(Reply("~2\r\n+x\r\n~0\r\n"), "< set:2 simple\"x\" set:0 >12");
  EXPECT_EQ(Reply(">3\r\n$7\r\nmessage\r\n$3\r\nfoo\r\n$4\r\ntest\r\n"),
            "< push:3 bulk\"message\" bulk\"foo\" bulk\"test\" >36");
  EXPECT_EQ(Reply("*2\r\n*2\r\n*1\r\n_\r\n*0\r\n$1\r\nz\r\n"),
            "< array:2 array:2 array:1 null array:0 bulk\"z\" >26");
}

TEST(RespParserReply, AttributeInsideArrayIsNotAnElement) {
  // zeek attr.pcap, first reply (its stray trailing "\n" is not RESP).
  EXPECT_EQ(Reply("*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n"),
            "< array:3 int\"1\" int\"2\" attr:2 simple\"ttl\" int\"3600\" int\"3\" >33");
  // Zeek's capture ends the reply with a stray "\n": line ends between replies are skipped.
  EXPECT_EQ(Reply("*3\r\n:1\r\n:2\r\n|1\r\n+ttl\r\n:3600\r\n:3\r\n\n"),
            "< array:3 int\"1\" int\"2\" attr:2 simple\"ttl\" int\"3600\" int\"3\" >33");
}

TEST(RespParserReply, TopLevelAttributePrecedesTheValue) {
  // zeek attr.pcap, second reply: one message, ending after the array.
  const std::string attr =
      "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n"
      "*2\r\n:2039123\r\n:9543892\r\n";
  EXPECT_EQ(Reply(attr),
            "< attr:2 simple\"key-popularity\" map:4 bulk\"a\" double\"0.1923\" bulk\"b\" "
            "double\"0.0012\" array:2 int\"2039123\" int\"9543892\" >" +
                std::to_string(attr.size()));
  Recorder r;
  RespParser parser(RespRole::kReply, {}, &r);
  parser.Feed(attr, 7);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].type, RespType::kArray);
  EXPECT_THAT(Args(r.messages[0]), ElementsAre("2039123", "9543892"));
  // An empty attribute, and an attribute on a scalar inside a map value.
  EXPECT_EQ(Reply("|0\r\n+OK\r\n"), "< attr:0 simple\"OK\" >9");
  EXPECT_EQ(Reply("%1\r\n+k\r\n|1\r\n+a\r\n+b\r\n:1\r\n"),
            "< map:2 simple\"k\" attr:2 simple\"a\" simple\"b\" int\"1\" >24");
  // After the top-level attribute, the parser is mid-message.
  RespParser mid(RespRole::kReply, {}, &r);
  mid.Feed("|1\r\n+a\r\n+b\r\n", 1);
  EXPECT_FALSE(mid.at_boundary());
  mid.Feed(":1\r\n", 2);
  EXPECT_TRUE(mid.at_boundary());
}

TEST(RespParserReply, InvalidValuesAreProtocolErrors) {
  EXPECT_EQ(Reply(":abc\r\n"), "!bad_integer");
  EXPECT_EQ(Reply(":+5\r\n"), "!bad_integer");
  EXPECT_EQ(Reply(":007\r\n"), "!bad_integer");
  EXPECT_EQ(Reply(":-0\r\n"), "!bad_integer");
  EXPECT_EQ(Reply(":\r\n"), "!bad_integer");
  EXPECT_EQ(Reply(":9223372036854775808\r\n"), "!bad_integer");
  EXPECT_EQ(Reply(":-9223372036854775809\r\n"), "!bad_integer");
  EXPECT_EQ(Reply(":" + std::string(85, '9') + "\r\n"), "!bad_integer");
  EXPECT_EQ(Reply(",1.2.x\r\n"), "!bad_double");
  EXPECT_EQ(Reply(",\r\n"), "!bad_double");
  EXPECT_EQ(Reply(",infinity\r\n"), "!bad_double");
  EXPECT_EQ(Reply("#x\r\n"), "!bad_boolean");
  EXPECT_EQ(Reply("#true\r\n"), "!bad_boolean");
  EXPECT_EQ(Reply("(12a\r\n"), "!bad_integer");
  EXPECT_EQ(Reply("_x\r\n"), "!bad_type");
  EXPECT_EQ(Reply("$-2\r\n"), "!bad_length");
  EXPECT_EQ(Reply("*-5\r\n"), "!bad_length");
  EXPECT_EQ(Reply("$abc\r\n"), "!bad_length");
  EXPECT_EQ(Reply("|-1\r\n"), "!bad_length");
  EXPECT_EQ(Reply("=3\r\ntxt\r\n"), "!bad_length");
  EXPECT_EQ(Reply("$999999999999\r\n"), "!bad_length");
  EXPECT_EQ(Reply("*10000000000\r\n"), "!bad_length");
  // Streamed RESP3 strings and aggregates are not supported.
  EXPECT_EQ(Reply("$?\r\n;4\r\nHell\r\n;0\r\n"), "!bad_length");
  EXPECT_EQ(Reply("*?\r\n:1\r\n.\r\n"), "!bad_length ~0 < int\"1\" >4 !bad_type");
  EXPECT_EQ(Reply("$3\r\nfooXY"), "< bulk\"foo\" !missing_crlf");
  EXPECT_EQ(Reply("+OK\n"), "!missing_crlf");
  EXPECT_EQ(Reply("hello\r\n"), "!bad_type");
  EXPECT_EQ(Reply("\r\n"), "");  // line ends between replies carry nothing
  EXPECT_EQ(Reply("\r\n+OK\r\n\n"), "< simple\"OK\" >5");
}

// The usual replies whole in a piece take a one-pass path; its edges, whole and split.
TEST(RespParserReply, WholeRepliesAsTheStateMachineReadsThem) {
  EXPECT_EQ(Reply("+\r\n"), "< simple\"\" >3");
  EXPECT_EQ(Reply("+\n"), "!missing_crlf");
  EXPECT_EQ(Reply("-ERR x\r\n$1\r\na\r\n"), "< error\"ERR x\" >8 < bulk\"a\" >7");
  const std::string long_line = "+" + std::string(100, 'x') + "\r\n";
  EXPECT_EQ(Reply(long_line), "< simple\"" + std::string(100, 'x') + "\" >103");
  RespLimits limits;
  limits.max_line_len = 4;
  limits.max_bulk_len = 2;
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "+abc\r\n", limits), "< simple\"abc\" >6");
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "+abcd\r\n", limits), "!line_too_long");
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "$3\r\nabc\r\n", limits), "!bad_length");
}

TEST(RespParserReply, LimitsAreEnforced) {
  RespLimits limits;
  limits.max_depth = 3;
  limits.max_aggregate_len = 4;
  limits.max_bulk_len = 5;
  limits.max_line_len = 8;
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "*1\r\n*1\r\n*1\r\n:1\r\n", limits),
            "< array:1 array:1 array:1 int\"1\" >16");
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", limits),
            "< array:1 array:1 array:1 !too_deep ~0 < int\"1\" >4");
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "*4\r\n", limits), "< array:4");
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "*5\r\n", limits), "!bad_length");
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "%3\r\n", limits), "< map:6");
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "$5\r\nabcde\r\n", limits), "< bulk\"abcde\" >11");
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "$6\r\nabcdef\r\n", limits), "!bad_length");
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "+1234567\r\n", limits), "< simple\"1234567\" >10");
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "+12345678\r\n", limits), "!line_too_long");
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "+12345678901234567890\r\n+OK\r\n", limits),
            "!line_too_long ~13 < simple\"OK\" >5");
}

// Every way of cutting `input` in two inside its first line, and byte by byte: the trace
// of each (which must all be the same).
std::string ParseSplitInFirstLine(RespRole role, std::string_view input, const RespLimits& limits) {
  std::vector<std::string> bytes;
  for (char c : input) bytes.emplace_back(1, c);
  const std::string trace = ParsePieces(role, bytes, limits);
  for (size_t i = 1; i <= input.find('\n'); ++i) {
    EXPECT_EQ(ParsePieces(role, {std::string(input.substr(0, i)), std::string(input.substr(i))}, limits),
              trace)
        << "split at " << i << " of \"" << Escape(input) << "\"";
  }
  return trace;
}

// A simple string or an error cut across pieces is held only as far as max_kept_line; a line
// whole in a piece is handed over as it lies there, without being held at all.
TEST(RespParserReply, LinesSplitAcrossPiecesAreHeldOnlyInPart) {
  RespLimits limits;
  limits.max_kept_line = 4;
  EXPECT_EQ(Parse(RespRole::kReply, "+hello world\r\n", limits), "< simple\"hello world\" >14");
  EXPECT_EQ(ParseSplitInFirstLine(RespRole::kReply, "+hello world\r\n", limits),
            "< simple\"hell...(11)\" >14");
  EXPECT_EQ(ParseSplitInFirstLine(RespRole::kReply, "-ERR no such key\r\n:1\r\n", limits),
            "< error\"ERR ...(15)\" >18 < int\"1\" >4");
  EXPECT_EQ(ParseSplitInFirstLine(RespRole::kReply, "+ab\rcd\r\n", limits),
            "< simple\"ab\\rc...(5)\" >8");
  EXPECT_EQ(ParseSplitInFirstLine(RespRole::kReply, "+abcd\r\n", limits), "< simple\"abcd\" >7");
  // The checks still see the whole line: its length, and its CRLF.
  limits.max_line_len = 8;
  EXPECT_EQ(ParseSplitInFirstLine(RespRole::kReply, "+12345678\r\n", limits), "!line_too_long");
  EXPECT_EQ(ParseSplitInFirstLine(RespRole::kReply, "+1234567\n", limits), "!missing_crlf");
  // Other lines are held whole: they are short, and only whole can they be checked.
  EXPECT_EQ(ParseSplitInFirstLine(RespRole::kReply, "(1234567\r\n", limits), "< bignum\"1234567\" >10");
  EXPECT_EQ(ParseSplitInFirstLine(RespRole::kRequest, "ECHO abcdef\r\n", limits),
            "<i array:2 bulk\"ECHO\" bulk\"abcdef\" >13");
}

TEST(RespParserReply, AMegabyteLineSplitAcrossPiecesHoldsOnlyItsKeptBytes) {
  RespLimits limits;
  limits.max_kept_line = 512;
  Recorder r;
  RespParser parser(RespRole::kReply, limits, &r);
  const size_t initial_capacity = RespParserTestPeer::line_capacity(parser);
  parser.Feed("-ERR ", 1);
  const std::string chunk(1000, 'x');
  for (int i = 0; i < 1000; ++i) {
    parser.Feed(chunk, 2);
    ASSERT_LE(RespParserTestPeer::line_size(parser), 1u + 512);
  }
  parser.Feed("\r\n", 3);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].data, "ERR " + std::string(508, 'x'));
  EXPECT_THAT(r.trace, ::testing::EndsWith("x...(1000004)\" >1000007"));
  EXPECT_EQ(RespParserTestPeer::line_capacity(parser), initial_capacity);
}

// An owner bounding what is held can give up a line held across pieces: lost bytes, as in
// a gap, and the parser looks for the next boundary.
TEST(RespParserReply, DroppingTheHeldLineIsAGap) {
  Recorder r;
  RespParser parser(RespRole::kReply, RespLimits{}, &r);
  parser.DropHeldLine(1);  // nothing held: nothing happens
  parser.Feed("+OK\r\n:12", 2);
  EXPECT_EQ(parser.held_bytes(), 3u);
  parser.DropHeldLine(3);
  EXPECT_EQ(parser.held_bytes(), 0u);
  parser.Feed("34\r\n:5\r\n", 4);
  EXPECT_EQ(r.trace, "< simple\"OK\" >5 !gap ~4 < int\"5\" >4");
  EXPECT_EQ(r.error_ts, std::vector<int64_t>{3});
}

// The nesting stack starts small and grows with the first deep value, up to max_depth.
TEST(RespParserReply, NestingPastTheStacksFirstReserveUpToTheLimit) {
  RespLimits limits;
  limits.max_depth = 40;
  std::string deep;
  std::string trace = "<";
  for (int i = 0; i < 40; ++i) {
    deep += "*1\r\n";
    trace += " array:1";
  }
  deep += ":1\r\n";
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, deep, limits),
            trace + " int\"1\" >" + std::to_string(deep.size()));
  // One more level is refused; the parser finds the next value at the line after.
  EXPECT_EQ(ParseAllSplits(RespRole::kReply, "*1\r\n" + deep, limits),
            trace + " !too_deep ~0 < int\"1\" >4");
}

// --- Requests ------------------------------------------------------------------------

TEST(RespParserRequest, Multibulk) {
  EXPECT_EQ(Request("*3\r\n$3\r\nSET\r\n$4\r\nkey1\r\n$5\r\nHello\r\n"),
            "< array:3 bulk\"SET\" bulk\"key1\" bulk\"Hello\" >34");
  EXPECT_EQ(Request("*1\r\n$0\r\n\r\n"), "< array:1 bulk\"\" >10");
  // Redis ignores a multibulk count <= 0: no command, no error.
  EXPECT_EQ(Request("*0\r\n*-1\r\n*-5\r\n*1\r\n$4\r\nPING\r\n"), "< array:1 bulk\"PING\" >14");
}

// Whole requests within the limits take the one-pass path; every limit it checks sends a
// request back to the state machine, which reports the same (ParseAllSplits compares the
// whole piece with every split).
TEST(RespParserRequest, LimitsOnWholeRequests) {
  RespLimits limits;
  limits.max_request_multibulk_len = 3;
  limits.max_aggregate_len = 2;
  limits.max_bulk_len = 4;
  EXPECT_EQ(ParseAllSplits(RespRole::kRequest, "*2\r\n$3\r\nGET\r\n$4\r\nkey1\r\n", limits),
            "< array:2 bulk\"GET\" bulk\"key1\" >23");
  EXPECT_EQ(ParseAllSplits(RespRole::kRequest, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n", limits),
            "!bad_length");
  EXPECT_EQ(ParseAllSplits(RespRole::kRequest, "*2\r\n$3\r\nGET\r\n$5\r\nkey12\r\n", limits),
            "< array:2 bulk\"GET\" !bad_length");
  EXPECT_EQ(ParseAllSplits(RespRole::kRequest, "*1\r\n$4\r\nPINGx\r\n", limits),
            "< array:1 bulk\"PING\" !missing_crlf");
  limits.max_depth = 0;
  EXPECT_EQ(ParseAllSplits(RespRole::kRequest, "*1\r\n$4\r\nPING\r\n", limits), "!too_deep");
}

TEST(RespParserRequest, RedisProtocolErrors) {
  EXPECT_EQ(Request("*10000000000\r\n"), "!bad_length");
  EXPECT_EQ(Request("*1048577\r\n"), "!bad_length");
  EXPECT_EQ(Request("*abc\r\n"), "!bad_length");
  EXPECT_EQ(Request("*3\n$3\r\n"), "!bad_length");  // Redis ends the count at '\r'
  EXPECT_EQ(Request("*1\r\n:1\r\n"), "< array:1 !expected_bulk");
  EXPECT_EQ(Request("*2\r\n+ACL\r\n+LOAD\r\n"), "< array:2 !expected_bulk");
  EXPECT_EQ(Request("*1\r\n$-1\r\n"), "< array:1 !bad_length");
  EXPECT_EQ(Request("*1\r\n$999999999999\r\n"), "< array:1 !bad_length");
  EXPECT_EQ(Request("*1\r\n$3\r\nGETX\r\n"), "< array:1 bulk\"GET\" !missing_crlf");
  // Not '*' first: an inline command, as Redis reads it.
  EXPECT_EQ(Request("$999999999999\r\n"), "<i array:1 bulk\"$999999999999\" >15");
  EXPECT_EQ(Request(":1\r\n"), "<i array:1 bulk\":1\" >4");
}

TEST(RespParserRequest, InlineCommands) {
  EXPECT_EQ(Request("PING\r\n"), "<i array:1 bulk\"PING\" >6");
  EXPECT_EQ(Request("PING\n"), "<i array:1 bulk\"PING\" >5");
  EXPECT_EQ(Request("set  a\tb \r\n"), "<i array:3 bulk\"set\" bulk\"a\" bulk\"b\" >11");
  // Blank lines are no command (tcpdump resp_3_malicious: blank-line framing).
  EXPECT_EQ(Request("\r\n\n   \r\nPING\r\n"), "<i array:1 bulk\"PING\" >6");
  EXPECT_EQ(Request("\"a\\x41\\n\\r\\t\\b\\a\\\\\\\"\\q\""),
            "");  // no "\n" yet
  EXPECT_EQ(Request("\"a\\x41\\n\\r\\t\\b\\a\\\\\\\"\\q\"\r\n"),
            "<i array:1 bulk\"aA\\n\\r\\x09\\x08\\x07\\\\\\\"q\" >25");
  EXPECT_EQ(Request("'it\\'s' 'a\\nb'\r\n"), "<i array:2 bulk\"it's\" bulk\"a\\\\nb\" >16");
  EXPECT_EQ(Request("a\"b c\"\r\n"), "<i array:1 bulk\"ab c\" >8");
  EXPECT_EQ(Request("\"\" ''\r\n"), "<i array:2 bulk\"\" bulk\"\" >7");
  EXPECT_EQ(Request("\"\\x4g\"\r\n"), "<i array:1 bulk\"x4g\" >8");
  EXPECT_EQ(Request("a\rb\r\n"), "<i array:2 bulk\"a\" bulk\"b\" >5");
  EXPECT_EQ(Request(std::string("ECHO a\0b c\r\n", 12)), "<i array:2 bulk\"ECHO\" bulk\"a\" >12");
  EXPECT_EQ(Request("\"a\"b\r\n"), "!unbalanced_quotes ~0");
  EXPECT_EQ(Request("'a'b\r\n"), "!unbalanced_quotes ~0");
  EXPECT_EQ(Request("\"abc\r\n"), "!unbalanced_quotes ~0");
  EXPECT_EQ(Request("\"abc\\\"\r\n"), "!unbalanced_quotes ~0");
  EXPECT_EQ(Request(std::string("\"a\0\"\r\n", 6)), "!unbalanced_quotes ~0");
}

TEST(RespParserRequest, ZeekPipelineQuotes) {
  // The client payload of zeek/pipeline-quotes.pcap (one segment).
  const std::string payload =
      "SET key \"my value with spaces\"\r\n"
      "SET key2 'my value with single quotes'\r\n"
      "SET key3 'my value with \"double\" inners'\r\n"
      "SET key4 \"my value with 'single' inners\"\r\n"
      "SET key5 \"my value with \\\"escaped\\\" quotes\"\r\n"
      "SET key6 'my value with \\'escaped\\' quotes'\r\n"
      "SET bad1 \"unclosed double quotes\r\n"
      "SET bad2 'unclosed single quotes\r\n";
  Recorder r;
  RespParser parser(RespRole::kRequest, {}, &r);
  parser.Feed(payload, 5);
  ASSERT_EQ(r.messages.size(), 6u) << r.trace;
  EXPECT_THAT(Args(r.messages[0]), ElementsAre("SET", "key", "my value with spaces"));
  EXPECT_THAT(Args(r.messages[1]), ElementsAre("SET", "key2", "my value with single quotes"));
  EXPECT_THAT(Args(r.messages[2]), ElementsAre("SET", "key3", "my value with \"double\" inners"));
  EXPECT_THAT(Args(r.messages[3]), ElementsAre("SET", "key4", "my value with 'single' inners"));
  EXPECT_THAT(Args(r.messages[4]), ElementsAre("SET", "key5", "my value with \"escaped\" quotes"));
  EXPECT_THAT(Args(r.messages[5]), ElementsAre("SET", "key6", "my value with 'escaped' quotes"));
  EXPECT_THAT(r.inline_flags, ElementsAre(true, true, true, true, true, true));
  // Redis answers bad1 with "unbalanced quotes" and closes. The fault is confined to its
  // line, so the next line is parsed too: bad2 is reported, as Zeek does.
  EXPECT_THAT(r.errors, ElementsAre(RespError::kUnbalancedQuotes, RespError::kUnbalancedQuotes));
  EXPECT_FALSE(parser.resyncing());
  EXPECT_TRUE(parser.at_boundary());
  EXPECT_EQ(ParseAllSplits(RespRole::kRequest, payload), r.trace);
  EXPECT_EQ(Request("SET bad2 'unclosed single quotes\r\n"), "!unbalanced_quotes ~0");
}

TEST(RespParserRequest, InlineLineTooLong) {
  RespLimits limits;
  limits.max_inline_len = 8;
  EXPECT_EQ(ParseAllSplits(RespRole::kRequest, "12345678\r\n", limits), "<i array:1 bulk\"12345678\" >10");
  EXPECT_EQ(ParseAllSplits(RespRole::kRequest, "123456789\r\n", limits), "!line_too_long");
  EXPECT_EQ(ParseAllSplits(RespRole::kRequest, "PING PING PING PING\r\n*1\r\n$4\r\nPING\r\n", limits),
            "!line_too_long ~11 < array:1 bulk\"PING\" >14");
}

// --- Splits, zero copy, timestamps ---------------------------------------------------

TEST(RespParserSplit, MixedStreamsGiveTheSameTraceAtEverySplit) {
  const std::string replies =
      "+OK\r\n-ERR x\r\n:12\r\n$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n_\r\n,1.5\r\n#t\r\n(123\r\n"
      "!3\r\nerr\r\n=7\r\ntxt:abc\r\n*2\r\n%1\r\n+k\r\n~1\r\n:1\r\n>2\r\n+a\r\n|1\r\n+x\r\n+y\r\n+b\r\n"
      "|1\r\n+t\r\n:1\r\n*1\r\n$2\r\n\r\n\r\n";
  const std::string trace = Reply(replies);
  EXPECT_EQ(trace,
            "< simple\"OK\" >5 < error\"ERR x\" >8 < int\"12\" >5 < bulk\"hello\" >11 < bulk\"\" >6 "
            "< null >5 < null >5 < null >3 < double\"1.5\" >6 < bool\"t\" >4 < bignum\"123\" >6 "
            "< bulkerr\"err\" >9 < verbatim\"txt:abc\" >13 < array:2 map:2 simple\"k\" set:1 "
            "int\"1\" push:2 simple\"a\" attr:2 simple\"x\" simple\"y\" simple\"b\" >44 "
            "< attr:2 simple\"t\" int\"1\" array:1 bulk\"\\r\\n\" >24");
  const std::string requests =
      "*2\r\n$3\r\nGET\r\n$3\r\nkey\r\nPING\r\n\r\nset k \"a b\"\n*0\r\n*1\r\n$4\r\nPING\r\n";
  EXPECT_EQ(Request(requests),
            "< array:2 bulk\"GET\" bulk\"key\" >22 <i array:1 bulk\"PING\" >6 "
            "<i array:3 bulk\"set\" bulk\"k\" bulk\"a b\" >12 < array:1 bulk\"PING\" >14");
}

TEST(RespParserZeroCopy, BulkPiecesAndContiguousLinesAreViewsIntoTheFeed) {
  Recorder r;
  RespParser parser(RespRole::kReply, {}, &r);
  const std::string a = "*2\r\n+OK\r\n$10\r\n0123";
  const std::string b = "456789\r\n";
  parser.Feed(a, 1);
  ASSERT_EQ(r.pieces.size(), 2u);
  EXPECT_EQ(r.pieces[0].data(), a.data() + 5);  // "OK"
  EXPECT_EQ(r.pieces[1].data(), a.data() + 14);
  EXPECT_EQ(r.pieces[1].size(), 4u);
  parser.Feed(b, 2);
  ASSERT_EQ(r.pieces.size(), 3u);
  EXPECT_EQ(r.pieces[2].data(), b.data());
  EXPECT_EQ(r.trace, "< array:2 simple\"OK\" bulk\"0123456789\" >26");
}

class PieceLog : public RespHandler {
 public:
  std::vector<ScalarPiece> pieces;
  void OnMessageBegin(int64_t, bool) override {}
  void OnAggregate(RespType, int64_t) override {}
  void OnScalar(const ScalarPiece& p) override { pieces.push_back(p); }
  void OnMessageEnd(int64_t, uint64_t) override {}
  void OnProtocolError(RespError, int64_t, uint64_t) override {}
  void OnResync(uint64_t, int64_t) override {}
};

TEST(RespParserZeroCopy, PiecesCarryFirstLastAndDeclaredLength) {
  PieceLog log;
  RespParser parser(RespRole::kReply, {}, &log);
  parser.Feed("$6\r\nab", 1);
  parser.Feed("cd", 2);
  parser.Feed("ef\r\n", 3);
  ASSERT_EQ(log.pieces.size(), 3u);
  EXPECT_EQ(log.pieces[0].data, "ab");
  EXPECT_TRUE(log.pieces[0].first);
  EXPECT_FALSE(log.pieces[0].last);
  EXPECT_EQ(log.pieces[1].data, "cd");
  EXPECT_FALSE(log.pieces[1].first);
  EXPECT_FALSE(log.pieces[1].last);
  EXPECT_EQ(log.pieces[2].data, "ef");
  EXPECT_FALSE(log.pieces[2].first);
  EXPECT_TRUE(log.pieces[2].last);
  for (const ScalarPiece& p : log.pieces) {
    EXPECT_EQ(p.declared_len, 6);
    EXPECT_EQ(p.type, RespType::kBulkString);
    EXPECT_EQ(p.missing, 0u);
  }
}

TEST(RespParserTimestamps, BeginAndEndTakeTheTsOfTheirFeeds) {
  Recorder r;
  RespParser parser(RespRole::kRequest, {}, &r);
  EXPECT_TRUE(parser.at_boundary());
  parser.Feed("\r\n*2\r", 100);  // a skipped blank line, then the first bytes
  EXPECT_FALSE(parser.at_boundary());
  parser.Feed("\n$3\r\nGET\r\n$1\r\n", 200);
  parser.Feed("k\r\n*1\r\n$4\r\nP", 300);
  parser.Feed("ING\r\n", 400);
  EXPECT_TRUE(parser.at_boundary());
  EXPECT_THAT(r.begin_ts, ElementsAre(100, 300));
  EXPECT_THAT(r.end_ts, ElementsAre(300, 400));
  EXPECT_THAT(r.wire_bytes, ElementsAre(20u, 14u));
}

// --- Gaps ----------------------------------------------------------------------------

TEST(RespParserGap, InsideABulkBodyStaysInStep) {
  Recorder r;
  RespParser parser(RespRole::kRequest, {}, &r);
  parser.Feed("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nab", 1);
  parser.OnGap(5, 2);
  EXPECT_FALSE(parser.resyncing());
  parser.Feed("xyz\r\n*1\r\n$4\r\nPING\r\n", 3);
  EXPECT_EQ(r.trace,
            "< array:3 bulk\"SET\" bulk\"k\" bulk\"ab{-5}xyz\" >37 < array:1 bulk\"PING\" >14");
  EXPECT_THAT(r.end_ts, ElementsAre(3, 3));
}

TEST(RespParserGap, GapAtBodyStartAndEnd) {
  Recorder r;
  RespParser parser(RespRole::kReply, {}, &r);
  parser.Feed("$4\r\n", 1);
  parser.OnGap(4, 2);  // the whole body: first and last; the CRLF must still come
  EXPECT_FALSE(parser.at_boundary());
  parser.Feed("\r\n+OK\r\n", 3);
  EXPECT_EQ(r.trace, "< bulk\"{-4}\" >10 < simple\"OK\" >5");
}

TEST(RespParserGap, GapSwallowingTheCrlf) {
  {
    Recorder r;
    RespParser parser(RespRole::kReply, {}, &r);
    parser.Feed("$4\r\nab", 1);
    parser.OnGap(3, 2);  // "cd" and the '\r'
    parser.Feed("\n+OK\r\n", 3);
    EXPECT_EQ(r.trace, "< bulk\"ab{-2}\" >10 < simple\"OK\" >5");
    EXPECT_THAT(r.end_ts, ElementsAre(3, 3));
  }
  {
    Recorder r;
    RespParser parser(RespRole::kReply, {}, &r);
    parser.Feed("*2\r\n$4\r\nab", 1);
    parser.OnGap(4, 2);  // "cd\r\n": the bulk ends with the gap
    parser.Feed("+OK\r\n", 3);
    EXPECT_EQ(r.trace, "< array:2 bulk\"ab{-2}\" simple\"OK\" >19");
  }
  {
    Recorder r;
    RespParser parser(RespRole::kReply, {}, &r);
    parser.Feed("$4\r\nab", 1);
    parser.OnGap(4, 2);
    EXPECT_EQ(r.trace, "< bulk\"ab{-2}\" >10");
    EXPECT_THAT(r.end_ts, ElementsAre(2));
    EXPECT_TRUE(parser.at_boundary());
  }
}

TEST(RespParserGap, OutsideABulkBodyIsAnErrorThenResync) {
  {
    Recorder r;
    RespParser parser(RespRole::kReply, {}, &r);
    parser.Feed("$4\r\nab", 1);
    parser.OnGap(5, 2);  // past the bulk's CRLF: where we land is unknown
    EXPECT_TRUE(parser.resyncing());
    parser.Feed("xx\r\n:1\r\n", 3);
    EXPECT_EQ(r.trace, "< !gap ~4 < int\"1\" >4");
    EXPECT_THAT(r.error_ts, ElementsAre(2));
    EXPECT_THAT(r.resync_ts, ElementsAre(3));
  }
  {
    Recorder r;
    RespParser parser(RespRole::kRequest, {}, &r);
    parser.OnGap(10, 1);  // at a boundary
    parser.Feed("1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", 2);
    EXPECT_EQ(r.trace, "!gap ~13 < array:1 bulk\"PING\" >14");
  }
  {
    Recorder r;
    RespParser parser(RespRole::kRequest, {}, &r);
    parser.Feed("*1\r\n$4\r", 1);  // inside a header line
    parser.OnGap(1, 2);
    EXPECT_EQ(r.trace, "< array:1 !gap");
    parser.OnGap(3, 3);  // while resyncing: whole requests may have gone with it
    EXPECT_EQ(r.trace, "< array:1 !gap !gap");
    EXPECT_THAT(r.error_ts, ElementsAre(2, 3));
    parser.Feed("*1\r\n$1\r\nX\r\n", 4);  // a segment that starts with a request
    EXPECT_EQ(r.trace, "< array:1 !gap !gap ~0 < array:1 bulk\"X\" >11");
  }
}

// The byte after a gap may start a message, as the first byte of a joined stream may: a
// request lost whole leaves the next one found (a segment often starts with one), and a
// reply after a lost one is found too.
TEST(RespParserGap, WhatFollowsAGapMayStartAMessage) {
  {
    Recorder r;
    RespParser parser(RespRole::kRequest, {}, &r);
    parser.Feed("*1\r\n$4\r\nPING\r\n", 1);
    parser.OnGap(14, 2);  // a whole request
    parser.Feed("*1\r\n$4\r\nPING\r\n", 3);
    EXPECT_EQ(r.trace, "< array:1 bulk\"PING\" >14 !gap ~0 < array:1 bulk\"PING\" >14");
  }
  {
    Recorder r;
    RespParser parser(RespRole::kReply, {}, &r);
    parser.Feed("+OK\r\n+PO", 1);
    parser.OnGap(4, 2);  // the rest of a reply
    parser.Feed("+OK\r\n", 3);
    EXPECT_EQ(r.trace, "< simple\"OK\" >5 !gap ~0 < simple\"OK\" >5");
  }
  {
    // Only at a request's header: the rest of a value is skipped to the next line start.
    Recorder r;
    RespParser parser(RespRole::kRequest, {}, &r);
    parser.OnGap(10, 1);
    parser.Feed("$1\r\nx\r\n*1\r\n$4\r\nPING\r\n", 2);
    EXPECT_EQ(r.trace, "!gap ~7 < array:1 bulk\"PING\" >14");
  }
}

// --- Hostile input and resync ---------------------------------------------------------

TEST(RespParserHostile, EachErrorResyncsOnTheNextValidMessage) {
  const std::string next_reply = "+OK\r\n";
  EXPECT_EQ(Reply("$999999999999\r\n" + next_reply), "!bad_length ~0 < simple\"OK\" >5");
  EXPECT_EQ(Reply("*-5\r\n" + next_reply), "!bad_length ~0 < simple\"OK\" >5");
  EXPECT_EQ(Reply(":" + std::string(85, '1') + "\r\n" + next_reply),
            "!bad_integer ~0 < simple\"OK\" >5");
  EXPECT_EQ(Reply("*10000000000\r\n" + next_reply), "!bad_length ~0 < simple\"OK\" >5");
  EXPECT_EQ(Reply("not RESP\r\nat all\r\n" + next_reply), "!bad_type ~18 < simple\"OK\" >5");
  EXPECT_EQ(Reply("\x01\xff\xfe garbage\n\n\n" + next_reply), "!bad_type ~14 < simple\"OK\" >5");

  const std::string next_request = "*1\r\n$4\r\nPING\r\n";
  EXPECT_EQ(Request("*10000000000\r\n" + next_request), "!bad_length ~0 < array:1 bulk\"PING\" >14");
  EXPECT_EQ(Request("*1\r\n$999999999999\r\n" + next_request),
            "< array:1 !bad_length ~0 < array:1 bulk\"PING\" >14");
  EXPECT_EQ(Request("*2\r\n:" + std::string(85, '1') + "\r\n" + next_request),
            "< array:2 !expected_bulk ~88 < array:1 bulk\"PING\" >14");
  // After unbalanced quotes the next line is a boundary, whatever it holds.
  EXPECT_EQ(Request("\"bad\r\n*x\r\n *1\r\n" + next_request),
            "!unbalanced_quotes ~0 !bad_length ~5 < array:1 bulk\"PING\" >14");
}

TEST(RespParserHostile, DeepNestingErrorsWithoutRecursion) {
  std::string deep;
  for (int i = 0; i < 10000; ++i) deep += "*1\r\n";
  Recorder r;
  RespParser parser(RespRole::kReply, {}, &r);
  parser.Feed(deep, 1);
  // Every 129th header is one too deep; the next line is a fresh message at once.
  EXPECT_EQ(r.errors.size(), 10000u / 129);
  EXPECT_EQ(RespParserTestPeer::stack_size(parser), 10000u % 129);
  parser.Feed(":1\r\n", 2);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.wire_bytes.back(), (10000u % 129) * 4 + 4);

  Recorder q;
  RespParser request(RespRole::kRequest, {}, &q);
  request.Feed(deep, 1);
  EXPECT_EQ(q.errors.size(), 5000u);  // "*1" then "*1" where a '$' must be, and so on
  EXPECT_TRUE(q.messages.empty());
}

// --- Published vectors ---------------------------------------------------------------

nlohmann::json LoadVectors(const std::string& name) {
  std::ifstream in(std::string(RESPTRACE_TEST_DATA) + "/vectors/" + name);
  EXPECT_TRUE(in.good()) << name;
  return nlohmann::json::parse(in);
}

// pixie's rendering of a reply: a scalar's data, "<NULL>" for a null, a JSON-like list
// for an array.
std::string PixiePayload(const Node& n) {
  if (n.type == RespType::kNull) return "<NULL>";
  if (n.type != RespType::kArray) return n.data;
  std::vector<std::string> items;
  for (const Node& c : n.children) items.push_back("\"" + PixiePayload(c) + "\"");
  return "[" + absl::StrJoin(items, ",") + "]";
}

TEST(RespParserVectors, Pixie) {
  const nlohmann::json v = LoadVectors("pixie_redis_parse_vectors.json");
  ASSERT_EQ(v["well_formed"].size(), 20u);
  for (const auto& c : v["well_formed"]) {
    const std::string input = c["input"];
    const std::string command = c["command"];
    SCOPED_TRACE(Escape(input));
    // Every input is one RESP value, read in full.
    Recorder reply;
    RespParser parser(RespRole::kReply, {}, &reply);
    parser.Feed(input, 1);
    ASSERT_EQ(reply.messages.size(), 1u) << reply.trace;
    EXPECT_TRUE(reply.errors.empty()) << reply.trace;
    EXPECT_EQ(reply.wire_bytes[0], input.size());
    const Node& msg = reply.messages[0];
    if (command.empty()) {
      // pixie renders an array null "[NULL]"; to us it is a null like "$-1".
      EXPECT_EQ(PixiePayload(msg), input == "*-1\r\n" ? "<NULL>" : std::string(c["payload"]));
      continue;
    }
    // The command is the first argument (or two) in upper case.
    ASSERT_EQ(msg.type, RespType::kArray);
    const std::vector<std::string> args = Args(msg);
    const std::string one = absl::AsciiStrToUpper(args[0]);
    const std::string two = args.size() > 1 ? one + " " + absl::AsciiStrToUpper(args[1]) : one;
    EXPECT_TRUE(command == one || command == two) << command;
    // As a request, Redis's grammar takes only bulk-string arguments.
    bool all_bulk = true;
    for (const Node& a : msg.children) all_bulk &= a.type == RespType::kBulkString;
    Recorder request;
    RespParser req_parser(RespRole::kRequest, {}, &request);
    req_parser.Feed(input, 1);
    if (all_bulk) {
      ASSERT_EQ(request.messages.size(), 1u) << request.trace;
      EXPECT_EQ(Args(request.messages[0]), args);
    } else {
      EXPECT_THAT(request.errors, ElementsAre(RespError::kExpectedBulk));
    }
  }
  {
    const std::string input = v["published_message"]["input"];
    Recorder r;
    RespParser parser(RespRole::kReply, {}, &r);
    parser.Feed(input, 1);
    ASSERT_EQ(r.messages.size(), 1u);
    EXPECT_EQ(PixiePayload(r.messages[0]), std::string(v["published_message"]["payload"]));
  }
  // pixie's "needs more data" prefixes are RESP values cut short (their requests are not
  // Redis's request grammar, so they are checked as replies).
  ASSERT_EQ(v["needs_more_data_request"].size(), 28u);
  for (const auto& c : v["needs_more_data_request"]) {
    const std::string input = c;
    Recorder r;
    RespParser parser(RespRole::kReply, {}, &r);
    parser.Feed(input, 1);
    EXPECT_TRUE(r.end_ts.empty()) << Escape(input) << ": " << r.trace;
    EXPECT_TRUE(r.errors.empty()) << Escape(input) << ": " << r.trace;
    EXPECT_FALSE(parser.at_boundary()) << Escape(input);
  }
  const std::vector<std::string> expected_invalid = {
      "!bad_type", "!bad_type", "!bad_type", "< bulk\"a\" !missing_crlf ~7 !bad_length"};
  ASSERT_EQ(v["invalid_request"].size(), expected_invalid.size());
  for (size_t i = 0; i < expected_invalid.size(); ++i) {
    EXPECT_EQ(Reply(std::string(v["invalid_request"][i])), expected_invalid[i]);
  }
  // Read by Redis's request grammar, "$1" and "abc$-2" are inline commands and "*-2" is
  // no command; "a" waits for its "\n".
  EXPECT_EQ(Request(std::string(v["invalid_request"][3])),
            "<i array:1 bulk\"$1\" >4 <i array:1 bulk\"abc$-2\" >8");
  EXPECT_EQ(Request(std::string(v["invalid_request"][0])), "");
}

// packetbeat's rendering: a request as its arguments joined by spaces, a reply array as
// "[a, b]", a null as "nil".
std::string BeatsMessage(const Node& n, bool request) {
  if (request) return absl::StrJoin(Args(n), " ");
  if (n.type == RespType::kNull) return "nil";
  if (n.type != RespType::kArray) return n.data;
  std::vector<std::string> items;
  for (const Node& c : n.children) items.push_back(BeatsMessage(c, false));
  return "[" + absl::StrJoin(items, ", ") + "]";
}

TEST(RespParserVectors, PacketbeatCases) {
  const nlohmann::json v = LoadVectors("beats_packetbeat_redis_parser_vectors.json");
  ASSERT_EQ(v["cases"].size(), 12u);
  for (const auto& c : v["cases"]) {
    SCOPED_TRACE(std::string(c["name"]));
    const bool is_request = c["isRequest"];
    Recorder r;
    RespParser parser(is_request ? RespRole::kRequest : RespRole::kReply, {}, &r);
    size_t size = 0;
    if (c.contains("parts")) {
      const std::string part1 = c["parts"][0];
      const std::string part2 = c["parts"][1];
      parser.Feed(part1, 1);
      EXPECT_TRUE(r.end_ts.empty());
      EXPECT_TRUE(r.errors.empty());
      parser.Feed(part2, 2);
      size = part1.size() + part2.size();
    } else {
      const std::string input = c["input"];
      parser.Feed(input, 1);
      size = input.size();
    }
    ASSERT_EQ(r.messages.size(), 1u) << r.trace;
    EXPECT_TRUE(r.errors.empty()) << r.trace;
    EXPECT_EQ(r.wire_bytes[0], size);
    EXPECT_EQ(BeatsMessage(r.messages[0], is_request), std::string(c["message"]));
    if (c.contains("method")) {
      EXPECT_EQ(absl::StrJoin(Args(r.messages[0]), " ").substr(0, std::string(c["method"]).size()),
                std::string(c["method"]));
    }
  }
}

// --- Randomized robustness -----------------------------------------------------------

void CheckBounded(const RespParser& parser, const RespLimits& limits, size_t line_capacity,
                  size_t stack_capacity) {
  const size_t max_line = std::max(limits.max_line_len, limits.max_inline_len) + 1;
  ASSERT_LE(RespParserTestPeer::line_size(parser), max_line);
  ASSERT_EQ(RespParserTestPeer::line_capacity(parser), line_capacity);
  ASSERT_LE(RespParserTestPeer::inline_args_size(parser), limits.max_inline_len);
  ASSERT_LE(RespParserTestPeer::stack_size(parser), limits.max_depth);
  ASSERT_EQ(RespParserTestPeer::stack_capacity(parser), stack_capacity);
}

TEST(RespParserFuzz, RandomAndMutatedStreamsNeverBreakTheParser) {
  const std::vector<std::string> seeds = {
      "*3\r\n$3\r\nSET\r\n$4\r\nkey1\r\n$5\r\nHello\r\nPING\r\nset a \"b c\" 'd'\r\n",
      "+OK\r\n$5\r\nhello\r\n*2\r\n%1\r\n+k\r\n:1\r\n|1\r\n+a\r\n,1.5\r\n#t\r\n",
      "=7\r\ntxt:abc\r\n>2\r\n+a\r\n~1\r\n_\r\n!3\r\nerr\r\n(12\r\n-ERR\r\n$-1\r\n*-1\r\n",
  };
  const std::string alphabet = "*$+-:_,#(!=%~|>?\r\n\r\n0123456789-1 \"'\\xab";
  RespLimits limits;
  limits.max_depth = 8;
  limits.max_aggregate_len = 50;
  limits.max_request_multibulk_len = 50;
  limits.max_bulk_len = 200;
  limits.max_inline_len = 64;
  limits.max_line_len = 64;
  std::mt19937 rng(12345);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  size_t messages = 0;
  size_t errors = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    std::string stream;
    if (iter % 2 == 0) {
      const size_t n = pick(300);
      for (size_t i = 0; i < n; ++i) {
        stream += pick(4) == 0 ? static_cast<char>(rng()) : alphabet[pick(alphabet.size())];
      }
    } else {
      for (int k = 0; k < 4; ++k) stream += seeds[pick(seeds.size())];
      for (size_t m = pick(6); m > 0; --m) {
        const size_t at = pick(stream.size());
        switch (pick(3)) {
          case 0: stream[at] = alphabet[pick(alphabet.size())]; break;
          case 1: stream.erase(at, 1 + pick(4)); break;
          default: stream.insert(at, 1, static_cast<char>(rng())); break;
        }
      }
    }
    const RespRole role = iter % 3 == 0 ? RespRole::kRequest : RespRole::kReply;
    // Without gaps, how the stream is cut must not matter.
    std::vector<std::string> pieces;
    for (size_t pos = 0; pos < stream.size();) {
      const size_t len = std::min(stream.size() - pos, 1 + pick(40));
      pieces.push_back(stream.substr(pos, len));
      pos += len;
    }
    const std::string whole = Parse(role, stream, limits);
    EXPECT_EQ(ParsePieces(role, pieces, limits), whole);
    // With gaps: no crash, buffers bounded.
    Recorder r;
    RespParser parser(role, limits, &r);
    const size_t line_capacity = RespParserTestPeer::line_capacity(parser);
    const size_t stack_capacity = RespParserTestPeer::stack_capacity(parser);
    int64_t ts = 0;
    for (const std::string& piece : pieces) {
      auto copy = std::make_unique<char[]>(piece.size());
      std::memcpy(copy.get(), piece.data(), piece.size());
      parser.Feed(std::string_view(copy.get(), piece.size()), ++ts);
      if (pick(10) == 0) parser.OnGap(1 + pick(20), ++ts);
      CheckBounded(parser, limits, line_capacity, stack_capacity);
    }
    messages += r.end_ts.size();
    errors += r.errors.size();
    if (HasFailure()) {
      ADD_FAILURE() << "iteration " << iter << " stream \"" << Escape(stream) << "\" trace " << whole;
      return;
    }
  }
  // The streams reach deep enough to exercise both outcomes often.
  EXPECT_GT(messages, 10000u);
  EXPECT_GT(errors, 5000u);
}

}  // namespace
}  // namespace resptrace

namespace resptrace {
namespace {

// Headers lying whole at the very end of a piece take the short path; long numbers there
// must still be checked, not overflow.
TEST(RespParserShortHeaders, LongNumbersAtThePiecesEnd) {
  EXPECT_EQ(Reply(":999999999999999999\r\n"), "< int\"999999999999999999\" >21");
  EXPECT_EQ(Reply(":9223372036854775807\r\n"), "< int\"9223372036854775807\" >22");
  EXPECT_EQ(Reply(":9223372036854775808\r\n"), "!bad_integer");
  EXPECT_EQ(Reply(":99999999999999999999\r\n"), "!bad_integer");
  EXPECT_EQ(Reply("*9223372036854775807\r\n"), "!bad_length");
  EXPECT_EQ(Reply("$99999999999999999999\r\n"), "!bad_length");
  EXPECT_EQ(Request("*1\r\n$9999999999999999999\r\n"), "< array:1 !bad_length");
  EXPECT_EQ(Request("*9999999999999999999\r\n"), "!bad_length");
}

}  // namespace
}  // namespace resptrace

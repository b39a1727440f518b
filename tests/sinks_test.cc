// JsonSink and TextSink: the exact bytes they write for each kind of value.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "resptrace/command_table.h"
#include "resptrace/json_sink.h"
#include "resptrace/message.h"
#include "resptrace/redaction.h"
#include "resptrace/text_sink.h"

namespace resptrace {
namespace {

// A tiny description language for values, so tests read like RESP:
// "$abc" bulk, "+OK" simple, "-ERR x" error, ":5" integer, ",1.5" double, "#t" boolean,
// "(123" bignum, "=txt:hi" verbatim, "_" null; aggregates via Agg().
struct V {
  RespType type;
  std::string data;
  std::vector<V> children;
};
V S(std::string s) {
  static const std::string kTypes = "$+-:,#(=_!";
  static const RespType kMap[] = {RespType::kBulkString, RespType::kSimpleString, RespType::kError,
                                  RespType::kInteger,    RespType::kDouble,       RespType::kBoolean,
                                  RespType::kBigNumber,  RespType::kVerbatim,     RespType::kNull,
                                  RespType::kBulkError};
  return V{kMap[kTypes.find(s[0])], s.substr(1), {}};
}
V Agg(RespType t, std::vector<V> c) { return V{t, "", std::move(c)}; }

void Build(MessageBuilder& b, const V& v) {
  if (IsAggregate(v.type)) {
    b.Aggregate(v.type, static_cast<int64_t>(v.children.size()));
    for (const V& c : v.children) Build(b, c);
    return;
  }
  ScalarPiece p{v.type, v.data};
  p.declared_len = static_cast<int64_t>(v.data.size());
  b.Scalar(p);
}

class SinkTest : public ::testing::Test {
 protected:
  void SetUp() override { setenv("TZ", "UTC", 1); }

  Message Make(const V& v, int64_t first_ts, int64_t last_ts, uint64_t bytes,
               MessageLimits limits = MessageLimits{}) {
    Message m;
    MessageBuilder b(limits);
    b.Begin(&m, first_ts, false);
    Build(b, v);
    m.last_ts_ns = last_ts;
    m.wire_bytes = bytes;
    return m;
  }

  template <typename Sink>
  std::string Render(const Record& r, Redaction redaction = Redaction::kSecrets) {
    char* buf = nullptr;
    size_t len = 0;
    std::FILE* f = open_memstream(&buf, &len);
    {
      Sink sink(f, redaction);
      sink.Write(r);
    }
    std::fclose(f);
    std::string out(buf, len);
    std::free(buf);
    return out;
  }

  Record Command(const Message& req, const Message* reply) {
    Record r;
    r.client = &client_;
    r.server = &server_;
    r.client_name = client_name_;
    r.server_name = server_name_;
    r.request = &req;
    r.reply = reply;
    if (reply == nullptr) r.no_reply = NoReply::kEndOfCapture;
    return r;
  }

  // A command record with what Session looks up in the command table (key_args_ holds its
  // keys, until the next call).
  Record LookedUp(const Message& req, const Message* reply) {
    Record r = Command(req, reply);
    std::vector<std::string_view> args;
    const ValueNode* c = Message::first_child(req.root());
    for (uint32_t i = 1; i < req.root()->children; ++i) {
      c = Message::next_sibling(c);
      args.push_back(req.data(*c));
    }
    const CommandMatch match = MatchCommand(req.data(*Message::first_child(req.root())), args);
    r.command = match.info;
    r.unknown_command = match.info == nullptr;
    r.has_subcommand = match.subcommand;
    key_args_.clear();
    if (match.info != nullptr) FindKeyArgs(*match.info, args, args.size(), &key_args_);
    r.key_args = key_args_;
    return r;
  }

  std::vector<uint32_t> key_args_;
  Endpoint client_{IpAddress::V4(reinterpret_cast<const uint8_t*>("\x7f\x00\x00\x01")), 50312};
  Endpoint server_{IpAddress::V4(reinterpret_cast<const uint8_t*>("\x7f\x00\x00\x01")), 6379};
  std::string client_name_ = client_.ToString();
  std::string server_name_ = server_.ToString();
  // 2023-11-14 22:13:20.120931 UTC
  static constexpr int64_t kT0 = 1700000000120931000;
};

TEST_F(SinkTest, JsonCommandWithSimpleReply) {
  Message req = Make(Agg(RespType::kArray, {S("$set"), S("$user:1"), S("$hello world")}), kT0,
                     kT0 + 1000, 42);
  Message rep = Make(S("+OK"), kT0 + 50000, kT0 + 92000, 5);
  EXPECT_EQ(Render<JsonSink>(Command(req, &rep)),
            "{\"type\":\"command\",\"ts\":1700000000.120931,\"client\":\"127.0.0.1:50312\","
            "\"server\":\"127.0.0.1:6379\",\"cmd\":\"SET\",\"args\":[\"user:1\",\"hello world\"],"
            "\"reply_type\":\"simple\",\"reply\":\"OK\",\"latency_us\":92,\"req_bytes\":42,"
            "\"reply_bytes\":5}\n");
}

TEST_F(SinkTest, JsonEveryReplyType) {
  Message req = Make(Agg(RespType::kArray, {S("$X")}), kT0, kT0, 1);
  struct Case {
    V reply;
    std::string type, json;
  } cases[] = {
      {S("-ERR bad"), "error", "{\"error\":\"ERR bad\"}"},
      {S("!SYNTAX x"), "error", "{\"error\":\"SYNTAX x\"}"},
      {S(":-42"), "integer", "-42"},
      {S("$a\"b\\c\n\x01"), "bulk", "\"a\\\"b\\\\c\\n\\u0001\""},
      {S("_"), "null", "null"},
      {S(",3.25"), "double", "3.25"},
      {S(",inf"), "double", "\"inf\""},
      {S(",-nan"), "double", "\"-nan\""},
      {S("#t"), "boolean", "true"},
      {S("#f"), "boolean", "false"},
      {S("(3492890328409238509324850943850943825024385"), "bignum",
       "\"3492890328409238509324850943850943825024385\""},
      {S("=txt:Some string"), "verbatim", "\"Some string\""},
      {Agg(RespType::kArray, {S(":1"), Agg(RespType::kArray, {})}), "array", "[1,[]]"},
      {Agg(RespType::kSet, {S("$a"), S("$b")}), "set", "[\"a\",\"b\"]"},
      {Agg(RespType::kMap, {S("+k1"), S(":1"), S("$k2"), S("_")}), "map",
       "[[\"k1\",1],[\"k2\",null]]"},
      {S("$\xff\xfe"), "bulk", "{\"b64\":\"//4=\"}"},
      {S("$caf\xc3\xa9"), "bulk", "\"caf\xc3\xa9\""},
      {S("$\xed\xa0\x80"), "bulk", "{\"b64\":\"7aCA\"}"},  // a UTF-16 surrogate is not UTF-8
  };
  for (const Case& c : cases) {
    Message rep = Make(c.reply, kT0, kT0, 1);
    const std::string out = Render<JsonSink>(Command(req, &rep));
    EXPECT_NE(out.find("\"reply_type\":\"" + c.type + "\",\"reply\":" + c.json + ","),
              std::string::npos)
        << out;
  }
}

TEST_F(SinkTest, JsonErrorPrefixFollowsTheReply) {
  Message req = Make(Agg(RespType::kArray, {S("$LLEN"), S("$k")}), kT0, kT0, 22);
  const V error = S("-WRONGTYPE Operation against a key");
  Message rep = Make(error, kT0, kT0 + 3000, 37);
  rep.error_prefix.Add(ScalarPiece{error.type, error.data});
  EXPECT_EQ(Render<JsonSink>(Command(req, &rep)),
            "{\"type\":\"command\",\"ts\":1700000000.120931,\"client\":\"127.0.0.1:50312\","
            "\"server\":\"127.0.0.1:6379\",\"cmd\":\"LLEN\",\"args\":[\"k\"],"
            "\"reply_type\":\"error\",\"reply\":{\"error\":\"WRONGTYPE Operation against a key\"},"
            "\"error_prefix\":\"WRONGTYPE\",\"latency_us\":3,\"req_bytes\":22,\"reply_bytes\":37}\n");
}

TEST_F(SinkTest, JsonCutValuesSayHowLongTheyWere) {
  MessageLimits limits;
  limits.max_value_bytes = 3;
  limits.max_elements = 2;
  Message req = Make(Agg(RespType::kArray, {S("$get"), S("$abcdef")}), kT0, kT0, 1, limits);
  Message rep = Make(Agg(RespType::kArray, {S(":1"), S(":2"), S(":3")}), kT0, kT0 + 1500, 1, limits);
  const std::string out = Render<JsonSink>(Command(req, &rep));
  EXPECT_NE(out.find("\"args\":[{\"truncated\":\"abc\",\"len\":6}]"), std::string::npos) << out;
  EXPECT_NE(out.find("\"reply\":[1,2,{\"more\":1}]"), std::string::npos) << out;
  EXPECT_NE(out.find("\"latency_us\":1.500"), std::string::npos) << out;
}

TEST_F(SinkTest, JsonUnansweredCommand) {
  Message req = Make(Agg(RespType::kArray, {S("$BLPOP"), S("$q"), S("$0")}), kT0, kT0, 23);
  const std::string out = Render<JsonSink>(Command(req, nullptr));
  EXPECT_NE(out.find("\"reply_type\":\"none\",\"reply\":null,\"latency_us\":null,\"req_bytes\":23,"
                     "\"reply_bytes\":0,\"no_reply\":\"eof\"}"),
            std::string::npos)
      << out;
}

TEST_F(SinkTest, JsonCommandTableFields) {
  // The fields Session fills from the command table: subcmd and keys for a known command.
  Message xinfo = Make(Agg(RespType::kArray, {S("$xinfo"), S("$stream"), S("$s\xff"), S("$FULL")}),
                       kT0, kT0, 1);
  Record known = Command(xinfo, nullptr);
  const std::vector<uint32_t> key_args = {1};
  known.command = MatchCommand("xinfo", {"stream", "s\xff", "FULL"}).info;
  known.has_subcommand = true;
  known.key_args = key_args;
  EXPECT_NE(Render<JsonSink>(known).find(
                "\"cmd\":\"XINFO\",\"args\":[\"stream\",{\"b64\":\"c/8=\"},\"FULL\"],"
                "\"subcmd\":\"STREAM\",\"keys\":[{\"b64\":\"c/8=\"}],\"reply_type\""),
            std::string::npos)
      << Render<JsonSink>(known);

  // An unknown command: no keys, flagged.
  Message nosuch = Make(Agg(RespType::kArray, {S("$nosuch"), S("$x")}), kT0, kT0, 1);
  Record unknown = Command(nosuch, nullptr);
  unknown.unknown_command = true;
  EXPECT_NE(Render<JsonSink>(unknown).find(
                "\"cmd\":\"NOSUCH\",\"args\":[\"x\"],\"keys\":[],\"unknown\":true,"
                "\"reply_type\""),
            std::string::npos)
      << Render<JsonSink>(unknown);
}

TEST_F(SinkTest, JsonIpv6Endpoints) {
  uint8_t v6[16] = {};
  v6[15] = 1;
  Endpoint c{IpAddress::V6(v6), 50000};
  Endpoint s{IpAddress::V6(v6), 6379};
  Message req = Make(Agg(RespType::kArray, {S("$PING")}), kT0, kT0, 14);
  Record r = Command(req, nullptr);
  r.client = &c;
  r.server = &s;
  const std::string client_name = c.ToString(), server_name = s.ToString();
  r.client_name = client_name;
  r.server_name = server_name;
  const std::string out = Render<JsonSink>(r);
  EXPECT_NE(out.find("\"client\":\"[::1]:50000\",\"server\":\"[::1]:6379\""), std::string::npos);
}

TEST_F(SinkTest, TextLine) {
  Message req = Make(Agg(RespType::kArray, {S("$set"), S("$user:1"), S("$hello world")}), kT0,
                     kT0, 42);
  Message rep = Make(S("+OK"), kT0, kT0 + 92000, 5);
  EXPECT_EQ(Render<TextSink>(Command(req, &rep)),
            "22:13:20.120931 127.0.0.1:50312 -> 127.0.0.1:6379 SET user:1 \"hello world\" -> OK "
            "(0.092 ms)\n");
}

TEST_F(SinkTest, GapRecordSaysWhichStreamLostHowManyBytes) {
  Record r;
  r.kind = RecordKind::kGap;
  r.client = &client_;
  r.server = &server_;
  r.client_name = client_name_;
  r.server_name = server_name_;
  r.gap_bytes = 1448;
  r.gap_in_requests = true;
  r.gap_ts_ns = kT0;
  EXPECT_EQ(Render<JsonSink>(r),
            "{\"type\":\"gap\",\"ts\":1700000000.120931,\"client\":\"127.0.0.1:50312\","
            "\"server\":\"127.0.0.1:6379\",\"stream\":\"requests\",\"bytes\":1448}\n");
  EXPECT_EQ(Render<TextSink>(r),
            "22:13:20.120931 127.0.0.1:50312 -> 127.0.0.1:6379 gap: 1448 bytes of requests lost\n");
  r.gap_in_requests = false;
  EXPECT_EQ(Render<JsonSink>(r),
            "{\"type\":\"gap\",\"ts\":1700000000.120931,\"client\":\"127.0.0.1:50312\","
            "\"server\":\"127.0.0.1:6379\",\"stream\":\"replies\",\"bytes\":1448}\n");
  EXPECT_EQ(Render<TextSink>(r),
            "22:13:20.120931 127.0.0.1:50312 <- 127.0.0.1:6379 gap: 1448 bytes of replies lost\n");
}

TEST_F(SinkTest, PubSubCommandWithEveryConfirmation) {
  Message req = Make(Agg(RespType::kArray, {S("$SUBSCRIBE"), S("$a"), S("$b")}), kT0, kT0, 33);
  Message a = Make(Agg(RespType::kArray, {S("$subscribe"), S("$a"), S(":1")}), kT0 + 50000, kT0 + 60000, 30);
  Message b = Make(Agg(RespType::kArray, {S("$subscribe"), S("$b"), S(":2")}), kT0 + 70000, kT0 + 92000, 30);
  const Message* confirmations[] = {&a, &b};
  Record r = Command(req, &a);
  r.replies = confirmations;
  // Latency to the last confirmation; bytes of both.
  EXPECT_EQ(Render<JsonSink>(r),
            "{\"type\":\"command\",\"ts\":1700000000.120931,\"client\":\"127.0.0.1:50312\","
            "\"server\":\"127.0.0.1:6379\",\"cmd\":\"SUBSCRIBE\",\"args\":[\"a\",\"b\"],"
            "\"reply_type\":\"array\",\"reply\":[\"subscribe\",\"a\",1],\"latency_us\":92,\"req_bytes\":33,"
            "\"reply_bytes\":60,\"replies\":[[\"subscribe\",\"a\",1],[\"subscribe\",\"b\",2]]}\n");
  EXPECT_EQ(Render<TextSink>(r),
            "22:13:20.120931 127.0.0.1:50312 -> 127.0.0.1:6379 SUBSCRIBE a b -> [\"subscribe\", \"a\", "
            "(integer) 1], [\"subscribe\", \"b\", (integer) 2] (0.092 ms)\n");
}

TEST_F(SinkTest, TextEscapesEverythingATerminalCouldObey) {
  Message req = Make(Agg(RespType::kArray, {S("$get"), S("$\x1b[2J\xff")}), kT0, kT0, 1);
  Message rep = Make(S("-ERR \x1b]0;x\x07"), kT0, kT0 + 1000000, 1);
  EXPECT_EQ(Render<TextSink>(Command(req, &rep)),
            "22:13:20.120931 127.0.0.1:50312 -> 127.0.0.1:6379 GET \"\\x1b[2J\\xff\" -> (error) "
            "ERR \\x1b]0;x\\x07 (1.000 ms)\n");
}

TEST_F(SinkTest, TextAggregatesAndCuts) {
  MessageLimits limits;
  limits.max_value_bytes = 2;
  limits.max_elements = 3;
  Message req = Make(Agg(RespType::kArray, {S("$hgetall"), S("$h")}), kT0, kT0, 1, limits);
  Message rep = Make(Agg(RespType::kMap, {S("$f1"), S("$value"), S("$f2"), S(":2")}), kT0, kT0, 1,
                     limits);
  EXPECT_EQ(Render<TextSink>(Command(req, &rep)),
            "22:13:20.120931 127.0.0.1:50312 -> 127.0.0.1:6379 HGETALL h -> {\"f1\": "
            "\"va\"...(5 bytes), \"f2\", ...(+1 more)} (0.000 ms)\n");
  Message none = Make(Agg(RespType::kArray, {S("$QUIT")}), kT0, kT0, 1);
  EXPECT_EQ(Render<TextSink>(Command(none, nullptr)),
            "22:13:20.120931 127.0.0.1:50312 -> 127.0.0.1:6379 QUIT -> (no reply: eof)\n");
}

// --redact-values: arguments that are not keys and every reply value are shown by their
// length only; the command, its subcommand, its keys and the reply's shape stay.
TEST_F(SinkTest, RedactedValuesSetAndMset) {
  Message set = Make(Agg(RespType::kArray, {S("$set"), S("$user:1"), S("$hello world"), S("$EX"),
                                            S("$60")}),
                     kT0, kT0 + 1000, 56);
  Message ok = Make(S("+OK"), kT0 + 50000, kT0 + 92000, 5);
  EXPECT_EQ(Render<JsonSink>(LookedUp(set, &ok), Redaction::kValues),
            "{\"type\":\"command\",\"ts\":1700000000.120931,\"client\":\"127.0.0.1:50312\","
            "\"server\":\"127.0.0.1:6379\",\"cmd\":\"SET\",\"args\":[\"user:1\","
            "{\"redacted\":true,\"len\":11},{\"redacted\":true,\"len\":2},"
            "{\"redacted\":true,\"len\":2}],\"keys\":[\"user:1\"],\"reply_type\":\"simple\","
            "\"reply\":\"OK\",\"latency_us\":92,\"req_bytes\":56,\"reply_bytes\":5}\n");
  EXPECT_EQ(Render<TextSink>(LookedUp(set, &ok), Redaction::kValues),
            "22:13:20.120931 127.0.0.1:50312 -> 127.0.0.1:6379 SET user:1 (redacted 11 bytes) "
            "(redacted 2 bytes) (redacted 2 bytes) -> OK (0.092 ms)\n");

  Message mset = Make(Agg(RespType::kArray, {S("$MSET"), S("$a"), S("$1"), S("$b"), S("$22")}), kT0,
                      kT0, 40);
  const std::string json = Render<JsonSink>(LookedUp(mset, &ok), Redaction::kValues);
  EXPECT_NE(json.find("\"cmd\":\"MSET\",\"args\":[\"a\",{\"redacted\":true,\"len\":1},\"b\","
                      "{\"redacted\":true,\"len\":2}],\"keys\":[\"a\",\"b\"],"),
            std::string::npos)
      << json;
  EXPECT_NE(Render<TextSink>(LookedUp(mset, &ok), Redaction::kValues)
                .find(" MSET a (redacted 1 byte) b (redacted 2 bytes) -> OK "),
            std::string::npos);
}

TEST_F(SinkTest, RedactedValuesUnknownCommandHidesEveryArgument) {
  Message req = Make(Agg(RespType::kArray, {S("$nosuch"), S("$key"), S("$secretive")}), kT0, kT0, 1);
  Message rep = Make(S("-ERR unknown command 'nosuch', with args beginning with: 'key' 'secretive'"),
                     kT0, kT0, 1);
  const std::string json = Render<JsonSink>(LookedUp(req, &rep), Redaction::kValues);
  EXPECT_NE(json.find("\"cmd\":\"NOSUCH\",\"args\":[{\"redacted\":true,\"len\":3},"
                      "{\"redacted\":true,\"len\":9}],\"keys\":[],\"unknown\":true,"
                      "\"reply_type\":\"error\",\"reply\":{\"error\":{\"redacted\":true,"
                      "\"len\":73,\"prefix\":\"ERR\"}},"),
            std::string::npos)
      << json;
  const std::string text = Render<TextSink>(LookedUp(req, &rep), Redaction::kValues);
  EXPECT_NE(text.find(" NOSUCH (redacted 3 bytes) (redacted 9 bytes) -> (error) ERR (redacted 73 "
                      "bytes) "),
            std::string::npos)
      << text;
  for (const std::string& out : {json, text}) {
    EXPECT_EQ(out.find("secretive"), std::string::npos) << out;
    EXPECT_EQ(out.find("unknown command"), std::string::npos) << out;
  }
}

TEST_F(SinkTest, RedactedValuesKeepTheSubcommandAndTheReplysShape) {
  Message hgetall = Make(Agg(RespType::kArray, {S("$HGETALL"), S("$h")}), kT0, kT0, 1);
  Message map = Make(Agg(RespType::kMap, {S("$field"), S("$value"), S("$n"), S(":42")}), kT0, kT0, 1);
  EXPECT_NE(Render<JsonSink>(LookedUp(hgetall, &map), Redaction::kValues)
                .find("\"args\":[\"h\"],\"keys\":[\"h\"],\"reply_type\":\"map\",\"reply\":"
                      "[[{\"redacted\":true,\"len\":5},{\"redacted\":true,\"len\":5}],"
                      "[{\"redacted\":true,\"len\":1},{\"redacted\":true,\"len\":2}]],"),
            std::string::npos)
      << Render<JsonSink>(LookedUp(hgetall, &map), Redaction::kValues);
  EXPECT_NE(Render<TextSink>(LookedUp(hgetall, &map), Redaction::kValues)
                .find(" HGETALL h -> {(redacted 5 bytes): (redacted 5 bytes), (redacted 1 byte): "
                      "(integer) (redacted 2 bytes)} "),
            std::string::npos)
      << Render<TextSink>(LookedUp(hgetall, &map), Redaction::kValues);

  // RESP2: an array; a null stays (it holds no value), so does the count of elements left out.
  MessageLimits limits;
  limits.max_elements = 3;
  Message array = Make(Agg(RespType::kArray, {S("$f"), S("$v"), S("$g"), S("_")}), kT0, kT0, 1, limits);
  EXPECT_NE(Render<JsonSink>(LookedUp(hgetall, &array), Redaction::kValues)
                .find("\"reply_type\":\"array\",\"reply\":[{\"redacted\":true,\"len\":1},"
                      "{\"redacted\":true,\"len\":1},{\"redacted\":true,\"len\":1},"
                      "{\"more\":1}],"),
            std::string::npos)
      << Render<JsonSink>(LookedUp(hgetall, &array), Redaction::kValues);
  EXPECT_NE(Render<TextSink>(LookedUp(hgetall, &array), Redaction::kValues)
                .find(" -> [(redacted 1 byte), (redacted 1 byte), (redacted 1 byte), ...(+1 more)] "),
            std::string::npos);

  // A subcommand's name and its key stay; the rest does not.
  Message xinfo = Make(Agg(RespType::kArray, {S("$xinfo"), S("$stream"), S("$s"), S("$FULL")}), kT0,
                       kT0, 1);
  Message nil = Make(S("_"), kT0, kT0, 1);
  EXPECT_NE(Render<JsonSink>(LookedUp(xinfo, &nil), Redaction::kValues)
                .find("\"args\":[\"stream\",\"s\",{\"redacted\":true,\"len\":4}],"
                      "\"subcmd\":\"STREAM\",\"keys\":[\"s\"],\"reply_type\":\"null\","
                      "\"reply\":null,"),
            std::string::npos)
      << Render<JsonSink>(LookedUp(xinfo, &nil), Redaction::kValues);
  EXPECT_NE(Render<TextSink>(LookedUp(xinfo, &nil), Redaction::kValues)
                .find(" XINFO stream s (redacted 4 bytes) -> (nil) "),
            std::string::npos);
}

TEST_F(SinkTest, RedactedValuesOfEveryScalarReplyType) {
  Message req = Make(Agg(RespType::kArray, {S("$X")}), kT0, kT0, 1);
  struct Case {
    V reply;
    std::string json, text;
  } cases[] = {
      {S("+QUEUED"), "\"QUEUED\"", "QUEUED"},  // fixed status replies carry no data
      {S("+PONG"), "\"PONG\"", "PONG"},
      {S("+string"), "{\"redacted\":true,\"len\":6}", "(redacted 6 bytes)"},
      {S("$OK"), "{\"redacted\":true,\"len\":2}", "(redacted 2 bytes)"},  // a bulk OK is data
      {S("-WRONGTYPE Operation against a key holding the wrong kind of value"),
       "{\"error\":{\"redacted\":true,\"len\":65,\"prefix\":\"WRONGTYPE\"}}",
       "(error) WRONGTYPE (redacted 65 bytes)"},
      {S("!SYNTAX"), "{\"error\":{\"redacted\":true,\"len\":6,\"prefix\":\"SYNTAX\"}}",
       "(error) SYNTAX (redacted 6 bytes)"},
      {S("-not RESP"), "{\"error\":{\"redacted\":true,\"len\":8}}", "(error) (redacted 8 bytes)"},
      {S(":-42"), "{\"redacted\":true,\"len\":3}", "(integer) (redacted 3 bytes)"},
      {S(",3.25"), "{\"redacted\":true,\"len\":4}", "(double) (redacted 4 bytes)"},
      {S("#t"), "{\"redacted\":true,\"len\":1}", "(boolean) (redacted 1 byte)"},
      {S("(12345678901234567890"), "{\"redacted\":true,\"len\":20}", "(bignum) (redacted 20 bytes)"},
      {S("=txt:hi"), "{\"redacted\":true,\"len\":6}", "(redacted 6 bytes)"},
      {S("_"), "null", "(nil)"},
  };
  for (const Case& c : cases) {
    Message rep = Make(c.reply, kT0, kT0, 1);
    const std::string json = Render<JsonSink>(LookedUp(req, &rep), Redaction::kValues);
    EXPECT_NE(json.find(",\"reply\":" + c.json + ","), std::string::npos) << json;
    const std::string text = Render<TextSink>(LookedUp(req, &rep), Redaction::kValues);
    EXPECT_NE(text.find(" -> " + c.text + " ("), std::string::npos) << text;
  }
  // Bytes lost to a capture gap are counted as when the value is shown.
  Message rep = Make(S("$abcdef"), kT0, kT0, 1);
  ValueNode& lost = *rep.mutable_root();
  lost.truncated = true;
  lost.full_len = 10;
  lost.missing = 4;
  EXPECT_NE(Render<JsonSink>(LookedUp(req, &rep), Redaction::kValues)
                .find(",\"reply\":{\"redacted\":true,\"len\":10,\"missing\":4},"),
            std::string::npos);
  EXPECT_NE(Render<TextSink>(LookedUp(req, &rep), Redaction::kValues)
                .find(" -> (redacted 10 bytes, 4 missing) ("),
            std::string::npos);
}

TEST_F(SinkTest, RedactedValuesLeaveSecretsWithoutTheirLength) {
  Message auth = Make(Agg(RespType::kArray, {S("$AUTH"), S("$alice"), S("$hunter2")}), kT0, kT0, 1);
  auth.mutable_root()[3].secret = true;  // as MarkSecrets leaves AUTH's password
  Message ok = Make(S("+OK"), kT0, kT0, 5);
  for (Redaction redaction : {Redaction::kSecrets, Redaction::kValues}) {
    const std::string json = Render<JsonSink>(LookedUp(auth, &ok), redaction);
    EXPECT_NE(json.find(",{\"redacted\":true}],"), std::string::npos) << json;
    const std::string text = Render<TextSink>(LookedUp(auth, &ok), redaction);
    EXPECT_NE(text.find(" (redacted) -> OK "), std::string::npos) << text;
    for (const std::string& out : {json, text}) {
      EXPECT_EQ(out.find("hunter2"), std::string::npos) << out;
      // Nor its length.
      EXPECT_EQ(out.find("\"len\":7"), std::string::npos) << out;
      EXPECT_EQ(out.find("7 bytes"), std::string::npos) << out;
    }
  }
  EXPECT_NE(Render<TextSink>(LookedUp(auth, &ok), Redaction::kValues)
                .find(" AUTH (redacted 5 bytes) (redacted) -> OK "),
            std::string::npos);
}

TEST_F(SinkTest, QueuedCommandCarriesWhatBecameOfItsTransaction) {
  Message req = Make(Agg(RespType::kArray, {S("$INCR"), S("$n")}), kT0, kT0, 26);
  Message queued = Make(S("+QUEUED"), kT0, kT0 + 1000, 9);
  Message exec = Make(Agg(RespType::kArray, {S("+OK"), S(":2")}), kT0, kT0, 13);
  Record r = Command(req, &queued);
  r.transaction = TxOutcome::kExec;
  r.exec_reply = &exec;
  r.exec_result = exec.root() + 2;
  EXPECT_EQ(Render<JsonSink>(r),
            "{\"type\":\"command\",\"ts\":1700000000.120931,\"client\":\"127.0.0.1:50312\","
            "\"server\":\"127.0.0.1:6379\",\"cmd\":\"INCR\",\"args\":[\"n\"],"
            "\"reply_type\":\"simple\",\"reply\":\"QUEUED\",\"latency_us\":1,\"req_bytes\":26,"
            "\"reply_bytes\":9,\"transaction\":\"exec\",\"exec_result\":2}\n");
  EXPECT_EQ(Render<TextSink>(r),
            "22:13:20.120931 127.0.0.1:50312 -> 127.0.0.1:6379 INCR n -> QUEUED (0.001 ms) "
            "[exec -> (integer) 2]\n");
  // --redact-values hides a result as it hides a reply.
  const std::string hidden = Render<JsonSink>(r, Redaction::kValues);
  EXPECT_NE(hidden.find(",\"exec_result\":{\"redacted\":true,\"len\":1}}"), std::string::npos)
      << hidden;
  EXPECT_NE(Render<TextSink>(r, Redaction::kValues).find("[exec -> (integer) (redacted 1 byte)]"),
            std::string::npos);
  r.transaction = TxOutcome::kWatchAbort;
  r.exec_reply = nullptr;
  r.exec_result = nullptr;
  const std::string json = Render<JsonSink>(r);
  EXPECT_NE(json.find(",\"reply_bytes\":9,\"transaction\":\"watch_abort\"}\n"), std::string::npos)
      << json;
  EXPECT_EQ(Render<TextSink>(r),
            "22:13:20.120931 127.0.0.1:50312 -> 127.0.0.1:6379 INCR n -> QUEUED (0.001 ms) "
            "[watch_abort]\n");
}

}  // namespace
}  // namespace resptrace

// JsonSink and TextSink: the exact bytes they write for each kind of value.
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "resptrace/command_table.h"
#include "resptrace/json_sink.h"
#include "resptrace/message.h"
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
  std::string Render(const Record& r) {
    char* buf = nullptr;
    size_t len = 0;
    std::FILE* f = open_memstream(&buf, &len);
    {
      Sink sink(f);
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

}  // namespace
}  // namespace resptrace

#include "resptrace/session.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "resptrace/null_sink.h"
#include "resptrace/resp_parser.h"

namespace resptrace {
namespace {

// What a test needs of a record, copied out (the record's views die with the call).
struct Seen {
  std::string kind;   // "command" or "push"
  std::string words;  // request elements joined by spaces
  std::string reply;  // "<type>:<first scalar>" or "none:<why>"
  int64_t latency_ns = -1;
  std::string malformed;
  std::string error_prefix;
};

class RecordingSink : public RecordSink {
 public:
  void Write(const Record& r) override {
    Seen s;
    s.kind = r.kind == RecordKind::kPush ? "push" : "command";
    if (r.request != nullptr) {
      const ValueNode* root = r.request->root();
      if (root != nullptr) {
        const ValueNode* c = Message::first_child(root);
        for (uint32_t i = 0; i < root->children; ++i, c = Message::next_sibling(c)) {
          if (i) s.words += ' ';
          s.words += std::string(r.request->data(*c));
        }
      }
    }
    if (r.reply != nullptr) {
      const ValueNode* root = r.reply->root();
      s.reply = std::string(RespTypeName(root->type)) + ":";
      const ValueNode* scalar = root;
      if (IsAggregate(root->type) && root->children > 0) scalar = Message::first_child(root);
      s.reply += std::string(r.reply->data(*scalar));
      if (r.kind == RecordKind::kCommand) s.latency_ns = r.latency_ns();
      s.error_prefix = std::string(r.reply->error_prefix.view());
    } else {
      s.reply = "none:" + std::string(NoReplyName(r.no_reply));
    }
    s.malformed = std::string(r.malformed);
    seen.push_back(s);
  }
  absl::Status Flush() override { return absl::OkStatus(); }
  std::vector<Seen> seen;
};

class SessionTest : public ::testing::Test {
 protected:
  SessionTest()
      : session_(options_, client_, server_, &sink_, &counters_),
        requests_(RespRole::kRequest, RespLimits{}, session_.request_handler()),
        replies_(RespRole::kReply, RespLimits{}, session_.reply_handler()) {
    session_.set_request_parser(&requests_);
  }

  SessionOptions options_;
  Endpoint client_{IpAddress{}, 50000};
  Endpoint server_{IpAddress{}, 6379};
  RecordingSink sink_;
  SessionCounters counters_;
  Session session_;
  RespParser requests_;
  RespParser replies_;
};

TEST_F(SessionTest, PipelinedRepliesPairInOrderWithPerCommandLatency) {
  requests_.Feed("*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n", 1000);
  requests_.Feed("*1\r\n$4\r\nPING\r\n", 2000);
  replies_.Feed("$2\r\nva\r\n", 5000);
  replies_.Feed("$2\r\nvb\r\n+PONG\r\n", 9000);
  ASSERT_EQ(sink_.seen.size(), 3u);
  EXPECT_EQ(sink_.seen[0].words, "GET a");
  EXPECT_EQ(sink_.seen[0].reply, "bulk:va");
  EXPECT_EQ(sink_.seen[0].latency_ns, 4000);
  EXPECT_EQ(sink_.seen[1].words, "GET b");
  EXPECT_EQ(sink_.seen[1].reply, "bulk:vb");
  EXPECT_EQ(sink_.seen[1].latency_ns, 8000);
  EXPECT_EQ(sink_.seen[2].words, "PING");
  EXPECT_EQ(sink_.seen[2].reply, "simple:PONG");
  EXPECT_EQ(sink_.seen[2].latency_ns, 7000);
  EXPECT_EQ(counters_.commands, 3u);
  EXPECT_EQ(counters_.replies, 3u);
  EXPECT_EQ(session_.pending(), 0u);
}

TEST_F(SessionTest, ErrorReplyIsAReplyAndKeepsPairing) {
  requests_.Feed("*2\r\n$4\r\nLLEN\r\n$1\r\nk\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n", 1);
  replies_.Feed("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n$1\r\nv\r\n", 2);
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[0].reply,
            "error:WRONGTYPE Operation against a key holding the wrong kind of value");
  EXPECT_EQ(sink_.seen[1].words, "GET k");
  EXPECT_EQ(sink_.seen[1].reply, "bulk:v");
}

TEST_F(SessionTest, ErrorRepliesCarryTheirPrefix) {
  requests_.Feed("PING\r\nPING\r\nPING\r\nPING\r\nPING\r\nPING\r\nPING\r\n", 1);
  replies_.Feed("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n", 2);
  replies_.Feed("-ERR\r\n", 3);                      // one word: the whole value
  replies_.Feed("-not a prefix\r\n", 4);             // lower case
  replies_.Feed("-MOVED3999 127.0.0.1:6381\r\n", 5);  // not letters only
  replies_.Feed("!20\r\nNOS", 6);                    // a bulk error whose word is split
  replies_.Feed("CRIPT No matching\r\n", 7);
  replies_.Feed("+ERR looks like one\r\n", 8);       // not an error
  replies_.Feed("- ERR leading space\r\n", 9);
  ASSERT_EQ(sink_.seen.size(), 7u);
  const char* want[] = {"WRONGTYPE", "ERR", "", "", "NOSCRIPT", "", ""};
  for (size_t i = 0; i < 7; ++i) EXPECT_EQ(sink_.seen[i].error_prefix, want[i]) << i;
  // Summed by prefix; errors without one are "other".
  const ErrorCounts& e = counters_.errors;
  ASSERT_EQ(e.prefixes, 3u);
  EXPECT_EQ(e.by_prefix[0].name(), "WRONGTYPE");
  EXPECT_EQ(e.by_prefix[1].name(), "ERR");
  EXPECT_EQ(e.by_prefix[2].name(), "NOSCRIPT");
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(e.by_prefix[i].count, 1u);
  EXPECT_EQ(e.other, 3u);
}

TEST_F(SessionTest, ErrorPrefixIsAtMostThirtyTwoLetters) {
  requests_.Feed("PING\r\nPING\r\n", 1);
  replies_.Feed("-" + std::string(32, 'A') + " x\r\n-" + std::string(33, 'A') + " x\r\n", 2);
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[0].error_prefix, std::string(32, 'A'));
  EXPECT_EQ(sink_.seen[1].error_prefix, "");
}

TEST_F(SessionTest, ErrorPrefixLostInAGapIsUnknown) {
  requests_.Feed("PING\r\n", 1);
  replies_.Feed("!20\r\nWRONG", 2);
  replies_.OnGap(15, 3);
  replies_.Feed("\r\n", 4);
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].reply.substr(0, 6), "error:");
  EXPECT_EQ(sink_.seen[0].error_prefix, "");
}

TEST(SessionErrorCountsTest, DistinctPrefixesAreBounded) {
  ErrorCounts counts;
  for (size_t i = 0; i < ErrorCounts::kMaxPrefixes + 2; ++i) {
    counts.Count(std::string(i + 1, 'E'));
    counts.Count(std::string(i + 1, 'E'));
  }
  EXPECT_EQ(counts.prefixes, ErrorCounts::kMaxPrefixes);
  EXPECT_EQ(counts.by_prefix[0].count, 2u);
  EXPECT_EQ(counts.by_prefix[ErrorCounts::kMaxPrefixes - 1].name(), std::string(ErrorCounts::kMaxPrefixes, 'E'));
  EXPECT_EQ(counts.other, 4u);
}

TEST(SessionErrorCountsTest, PrefixIsKnownWhenValuesAreNotKept) {
  SessionOptions options;
  options.message.keep_values = false;
  NullSink sink;  // records without values
  SessionCounters counters;
  Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
  RespParser requests(RespRole::kRequest, RespLimits{}, session.request_handler());
  RespParser replies(RespRole::kReply, RespLimits{}, session.reply_handler());
  requests.Feed("GET k\r\n", 1);
  replies.Feed("-NOAUTH Authentication required.\r\n", 2);
  ASSERT_EQ(counters.errors.prefixes, 1u);
  EXPECT_EQ(counters.errors.by_prefix[0].name(), "NOAUTH");
}

TEST_F(SessionTest, InlineCommandsPairLikeMultibulkOnes) {
  requests_.Feed("PING\r\nset k \"a b\"\r\n", 1);
  replies_.Feed("+PONG\r\n+OK\r\n", 2);
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[0].words, "PING");
  EXPECT_EQ(sink_.seen[1].words, "set k a b");
  EXPECT_EQ(sink_.seen[1].reply, "simple:OK");
}

TEST_F(SessionTest, UnansweredCommandsAreReportedAtClose) {
  requests_.Feed("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nQUIT\r\n", 1);
  replies_.Feed("+PONG\r\n", 2);
  session_.Close(NoReply::kEndOfCapture);
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[1].words, "QUIT");
  EXPECT_EQ(sink_.seen[1].reply, "none:eof");
  EXPECT_EQ(counters_.unanswered, 1u);
}

TEST_F(SessionTest, ReplyWithoutCommandIsCountedNotPaired) {
  replies_.Feed("+OK\r\n", 1);  // the server speaks first
  requests_.Feed("*1\r\n$4\r\nPING\r\n", 2);
  replies_.Feed("+PONG\r\n", 3);
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].reply, "simple:PONG");
  EXPECT_EQ(counters_.orphan_replies, 1u);
}

TEST_F(SessionTest, PushBetweenRepliesDoesNotShiftPairing) {
  requests_.Feed("*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n", 1);
  replies_.Feed("$1\r\n1\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n$1\r\n2\r\n", 2);
  ASSERT_EQ(sink_.seen.size(), 3u);
  EXPECT_EQ(sink_.seen[0].reply, "bulk:1");
  EXPECT_EQ(sink_.seen[1].kind, "push");
  EXPECT_EQ(sink_.seen[1].reply, "push:invalidate");
  EXPECT_EQ(sink_.seen[2].words, "GET b");
  EXPECT_EQ(sink_.seen[2].reply, "bulk:2");
  EXPECT_EQ(counters_.pushes, 1u);
}

TEST_F(SessionTest, ReplySentBeforeTheRequestArrivedIsNotItsReply) {
  // Client bytes start at sequence 1000; the request ends at 1000 + 14.
  session_.SetRequestSeqBase(1000);
  requests_.Feed("*1\r\n$4\r\nPING\r\n", 1);
  session_.SetReplyAck(1000);  // the server had not yet received the PING
  replies_.Feed("+OK\r\n", 2);
  session_.SetReplyAck(1014);
  replies_.Feed("+PONG\r\n", 3);
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].reply, "simple:PONG");
  EXPECT_EQ(counters_.orphan_replies, 1u);
}

TEST_F(SessionTest, LostRepliesReportWaitingCommandsAndStopPairing) {
  requests_.Feed("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", 1);
  replies_.Feed("+PO", 2);
  replies_.OnGap(10, 3);  // inside a simple string: which replies were lost is unknown
  requests_.Feed("*1\r\n$4\r\nECHO\r\n", 4);
  replies_.Feed("ONG\r\n+PONG\r\n", 5);
  ASSERT_EQ(sink_.seen.size(), 3u);
  EXPECT_EQ(sink_.seen[0].reply, "none:gap");
  EXPECT_EQ(sink_.seen[1].reply, "none:gap");
  EXPECT_EQ(sink_.seen[2].words, "ECHO");
  EXPECT_EQ(sink_.seen[2].reply, "none:desync");
  EXPECT_TRUE(session_.desynced());
  EXPECT_EQ(counters_.orphan_replies, 1u);
}

TEST_F(SessionTest, GapInsideABulkReplyKeepsPairing) {
  requests_.Feed("*2\r\n$3\r\nGET\r\n$1\r\na\r\n*1\r\n$4\r\nPING\r\n", 1);
  replies_.Feed("$10\r\nabc", 2);
  replies_.OnGap(7, 3);
  replies_.Feed("\r\n+PONG\r\n", 4);
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[0].reply, "bulk:abc");
  EXPECT_EQ(sink_.seen[1].reply, "simple:PONG");
  EXPECT_FALSE(session_.desynced());
}

TEST_F(SessionTest, LostRequestsKeepEarlierCommandsInStep) {
  requests_.Feed("*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGE", 1);
  requests_.OnGap(20, 2);  // the GET and whatever followed it are gone
  replies_.Feed("+PONG\r\n", 3);
  replies_.Feed("$1\r\nx\r\n", 4);  // the lost GET's reply, or a later one's: unknown
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].reply, "simple:PONG");
  EXPECT_TRUE(session_.desynced());
}

TEST_F(SessionTest, MalformedRequestTakesTheProtocolErrorReply) {
  requests_.Feed("*1\r\n$4\r\nPING\r\nSET k \"unbalanced\r\n", 1);
  replies_.Feed("+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n", 2);
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[1].malformed, "unbalanced_quotes");
  EXPECT_EQ(sink_.seen[1].reply, "error:ERR Protocol error: unbalanced quotes in request");
  EXPECT_EQ(counters_.request_errors, 1u);
}

TEST(SessionLimitsTest, TooManyPendingCommandsDesyncInsteadOfGrowing) {
  SessionOptions options;
  options.max_pending = 2;
  RecordingSink sink;
  SessionCounters counters;
  Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
  RespParser requests(RespRole::kRequest, RespLimits{}, session.request_handler());
  for (int i = 0; i < 3; ++i) requests.Feed("*1\r\n$4\r\nPING\r\n", i);
  EXPECT_EQ(session.pending(), 0u);
  ASSERT_EQ(sink.seen.size(), 3u);
  EXPECT_EQ(sink.seen[2].reply, "none:desync");
  EXPECT_EQ(counters.pending_overflows, 1u);
}

}  // namespace
}  // namespace resptrace

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
  bool cut = false;   // the request is cut short
  std::string reply;  // "<type>:<first scalar>" or "none:<why>"
  int64_t latency_ns = -1;
  std::string malformed;
  std::string command;  // the table's name for it, "(unknown)", or "" when not looked up
  bool subcommand = false;
  std::string keys;  // key arguments joined by spaces
  std::string error_prefix;
  std::string transaction;  // what became of the transaction it was queued in, if any
  std::string exec_result;  // "<type>:<first scalar>" of its result from EXEC, if linked
  std::string exec_secrets;  // the values of that result marked secret, joined by spaces
};

// "<type>:<first scalar>" of a value.
std::string Describe(const Message& m, const ValueNode* n) {
  std::string out = std::string(RespTypeName(n->type)) + ":";
  const ValueNode* scalar = n;
  if (IsAggregate(n->type) && n->children > 0) scalar = Message::first_child(n);
  return out + std::string(m.data(*scalar));
}

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
      s.reply = r.reply->root() != nullptr ? Describe(*r.reply, r.reply->root())
                                           : std::string(RespTypeName(r.reply->root_type())) + ":";
      if (r.kind == RecordKind::kCommand) s.latency_ns = r.latency_ns();
      s.error_prefix = std::string(r.reply->error_prefix.view());
    } else {
      s.reply = "none:" + std::string(NoReplyName(r.no_reply));
    }
    s.malformed = std::string(r.malformed);
    s.cut = r.request != nullptr && r.request->cut_short;
    s.command = r.command != nullptr ? std::string(r.command->name)
                : r.unknown_command  ? "(unknown)"
                                     : "";
    s.subcommand = r.has_subcommand;
    for (uint32_t i : r.key_args) {
      if (!s.keys.empty()) s.keys += ' ';
      s.keys += std::string(r.request->data(r.request->root()[i + 2]));
    }
    s.transaction = std::string(TxOutcomeName(r.transaction));
    if (r.exec_result != nullptr) {
      s.exec_result = Describe(*r.exec_reply, r.exec_result);
      for (uint32_t i = 0; i < r.exec_result->subtree; ++i) {
        if (!r.exec_result[i].secret) continue;
        if (!s.exec_secrets.empty()) s.exec_secrets += ' ';
        s.exec_secrets += std::string(r.exec_reply->data(r.exec_result[i]));
      }
    }
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

TEST_F(SessionTest, EachCommandIsLookedUpWithItsKeys) {
  requests_.Feed("*4\r\n$5\r\nxinfo\r\n$6\r\nstream\r\n$1\r\ns\r\n$4\r\nFULL\r\n", 1);
  requests_.Feed("mset a 1 b 2\r\nNOSUCH x\r\n*2\r\n$3\r\nGET\r\n", 2);
  replies_.Feed("*0\r\n+OK\r\n-ERR unknown command\r\n", 3);
  session_.Close(NoReply::kEndOfCapture);
  ASSERT_EQ(sink_.seen.size(), 4u);
  EXPECT_EQ(sink_.seen[0].command, "XINFO|STREAM");
  EXPECT_TRUE(sink_.seen[0].subcommand);
  EXPECT_EQ(sink_.seen[0].keys, "s");
  EXPECT_EQ(sink_.seen[1].command, "MSET");
  EXPECT_FALSE(sink_.seen[1].subcommand);
  EXPECT_EQ(sink_.seen[1].keys, "a b");
  EXPECT_EQ(sink_.seen[2].command, "(unknown)");
  EXPECT_EQ(sink_.seen[2].keys, "");
  // Cut short before its key arrived.
  EXPECT_EQ(sink_.seen[3].command, "GET");
  EXPECT_EQ(sink_.seen[3].keys, "");
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
  // Out of step, the ECHO waits for a proof of step that never comes: the capture ends.
  EXPECT_EQ(sink_.seen.size(), 2u);
  session_.Close(NoReply::kEndOfCapture);
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

TEST_F(SessionTest, AfterLostRequestsRequestsStartAtOneOfAKnownCommand) {
  requests_.Feed("*1\r\n$4\r\nPING\r\n", 1);
  requests_.OnGap(30, 2);
  // The bytes after the gap read as RESP of no command (the end of a value), then a PING:
  // the first is skipped, as it would be at a join.
  requests_.Feed("*2\r\n$3\r\nfoo\r\n$1\r\nx\r\n*1\r\n$4\r\nPING\r\n", 3);
  EXPECT_EQ(session_.pending(), 2u);
  EXPECT_EQ(counters_.join_skipped, 1u);
  EXPECT_EQ(counters_.commands, 2u);
  replies_.Feed("+PONG\r\n", 4);
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].reply, "simple:PONG");
}

TEST_F(SessionTest, RequestCutByAGapIsReportedWithoutAReply) {
  requests_.Feed("*1\r\n$4\r\nPING\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5", 1);
  requests_.OnGap(30, 2);  // inside the value's header, and past it
  requests_.Feed("*1\r\n$4\r\nPING\r\n", 3);
  EXPECT_EQ(counters_.commands, 3u);
  replies_.Feed("+PONG\r\n", 4);
  // The SET is known, and takes no reply: the lost bytes may have held other requests.
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[1].words, "SET k");
  EXPECT_TRUE(sink_.seen[1].cut);
  EXPECT_EQ(sink_.seen[1].reply, "none:gap");
  replies_.Feed("+OK\r\n", 5);
  EXPECT_EQ(sink_.seen.size(), 2u);  // the SET's reply, or a lost request's
  EXPECT_TRUE(session_.desynced());
}

TEST_F(SessionTest, RepliesLostWhileResyncingLoseTheCommandsWaitingThen) {
  requests_.Feed("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n", 1);
  replies_.Feed("+PO", 2);
  replies_.OnGap(4, 3);  // inside a reply: both PINGs lose theirs
  ASSERT_EQ(sink_.seen.size(), 2u);
  requests_.Feed("*1\r\n$4\r\nECHO\r\n", 4);
  EXPECT_EQ(session_.pending(), 1u);
  // Before any boundary, more bytes are lost: the ECHO's reply may be among them, and the
  // count of replies can no longer pair it.
  replies_.OnGap(7, 5);
  ASSERT_EQ(sink_.seen.size(), 3u);
  EXPECT_EQ(sink_.seen[2].words, "ECHO");
  EXPECT_EQ(sink_.seen[2].reply, "none:gap");
  EXPECT_EQ(session_.pending(), 0u);
}

TEST_F(SessionTest, MalformedRequestTakesTheProtocolErrorReply) {
  requests_.Feed("*1\r\n$4\r\nPING\r\nSET k \"unbalanced\r\n", 1);
  replies_.Feed("+PONG\r\n-ERR Protocol error: unbalanced quotes in request\r\n", 2);
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[1].malformed, "unbalanced_quotes");
  EXPECT_EQ(sink_.seen[1].reply, "error:ERR Protocol error: unbalanced quotes in request");
  EXPECT_EQ(counters_.request_errors, 1u);
}

// CLIENT REPLY OFF | ON | SKIP, as Redis 7 answers them (checked against redis-server).

// "words -> reply" for each record, in the order written.
std::vector<std::string> Pairs(const std::vector<Seen>& seen) {
  std::vector<std::string> out;
  for (const Seen& s : seen) out.push_back(s.words + " -> " + s.reply);
  return out;
}

TEST_F(SessionTest, RepliesOffUntilOnAndTheNextReplyPairsWithTheRightCommand) {
  requests_.Feed("PING\r\nCLIENT REPLY OFF\r\nPING\r\nGET k\r\nCLIENT REPLY ON\r\nPING\r\n", 1);
  replies_.Feed("+PONG\r\n+OK\r\n+PONG\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{
                                   "PING -> simple:PONG",
                                   "CLIENT REPLY OFF -> none:reply_off",
                                   "PING -> none:reply_off",
                                   "GET k -> none:reply_off",
                                   "CLIENT REPLY ON -> simple:OK",
                                   "PING -> simple:PONG",
                               }));
  EXPECT_EQ(counters_.replies, 3u);
  EXPECT_EQ(counters_.unanswered, 3u);
  EXPECT_EQ(counters_.orphan_replies, 0u);
  EXPECT_EQ(session_.pending(), 0u);
}

TEST_F(SessionTest, SilentCommandsAreReportedAtOnceWhenNothingWaitsBeforeThem) {
  requests_.Feed("CLIENT REPLY OFF\r\nSET k v\r\n", 1);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"CLIENT REPLY OFF -> none:reply_off",
                                                         "SET k v -> none:reply_off"}));
  EXPECT_EQ(session_.pending(), 0u);
}

TEST_F(SessionTest, SilentCommandsWaitForTheCommandsBeforeThemToKeepRequestOrder) {
  requests_.Feed("GET a\r\nCLIENT REPLY SKIP\r\nGET b\r\nGET c\r\n", 1);
  EXPECT_TRUE(sink_.seen.empty());
  replies_.Feed("$1\r\n1\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"GET a -> bulk:1",
                                                         "CLIENT REPLY SKIP -> none:reply_off",
                                                         "GET b -> none:reply_off"}));
  replies_.Feed("$1\r\n3\r\n", 3);
  ASSERT_EQ(sink_.seen.size(), 4u);
  EXPECT_EQ(sink_.seen[3].words + " -> " + sink_.seen[3].reply, "GET c -> bulk:3");
}

TEST_F(SessionTest, SkipSilencesItselfAndTheNextCommandOnly) {
  requests_.Feed("CLIENT REPLY SKIP\r\nECHO a\r\nECHO b\r\n", 1);
  replies_.Feed("$1\r\nb\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"CLIENT REPLY SKIP -> none:reply_off",
                                                         "ECHO a -> none:reply_off",
                                                         "ECHO b -> bulk:b"}));
}

TEST_F(SessionTest, SkipAfterSkipSilencesTheCommandAfterTheSecond) {
  requests_.Feed("CLIENT REPLY SKIP\r\nCLIENT REPLY SKIP\r\nECHO a\r\nECHO b\r\n", 1);
  replies_.Feed("$1\r\nb\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"CLIENT REPLY SKIP -> none:reply_off",
                                                         "CLIENT REPLY SKIP -> none:reply_off",
                                                         "ECHO a -> none:reply_off",
                                                         "ECHO b -> bulk:b"}));
}

TEST_F(SessionTest, OnRightAfterSkipIsAnswered) {
  requests_.Feed("CLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\n", 1);
  replies_.Feed("+OK\r\n+PONG\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"CLIENT REPLY SKIP -> none:reply_off",
                                                         "CLIENT REPLY ON -> simple:OK",
                                                         "PING -> simple:PONG"}));
}

TEST_F(SessionTest, SkipWhileRepliesAreOffDoesNothing) {
  // Zeek's client-skip-while-off capture: the ON after the SKIP is answered, and so is the
  // command after it.
  requests_.Feed("PING\r\nCLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY SKIP\r\nCLIENT REPLY ON\r\nPING\r\nPING\r\n", 1);
  replies_.Feed("+PONG\r\n+OK\r\n+PONG\r\n+PONG\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{
                                   "PING -> simple:PONG",
                                   "CLIENT REPLY OFF -> none:reply_off",
                                   "PING -> none:reply_off",
                                   "CLIENT REPLY SKIP -> none:reply_off",
                                   "CLIENT REPLY ON -> simple:OK",
                                   "PING -> simple:PONG",
                                   "PING -> simple:PONG",
                               }));
  EXPECT_EQ(counters_.orphan_replies, 0u);
}

TEST_F(SessionTest, ReplyControlNamesMatchInAnyCaseAndAcrossPieces) {
  requests_.Feed("*3\r\n$6\r\ncLiE", 1);
  requests_.Feed("nT\r\n$5\r\nrEPLY\r\n$3\r\nO", 2);
  requests_.Feed("fF\r\nPING\r\nclient reply on\r\n", 3);
  replies_.Feed("+OK\r\n", 4);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"cLiEnT rEPLY OfF -> none:reply_off",
                                                         "PING -> none:reply_off",
                                                         "client reply on -> simple:OK"}));
}

TEST_F(SessionTest, OtherCommandsOfTheSameLengthsChangeNothing) {
  requests_.Feed("CLIENX REPLY OFF\r\nCLIENT REPLZ OFF\r\nCLIENT REPLY OFX\r\nCLIENT REPLY-OFF x\r\n", 1);
  requests_.Feed("RESEX\r\nCLIENT SETNAME OFF\r\n", 1);
  replies_.Feed("-ERR a\r\n-ERR b\r\n-ERR c\r\n-ERR d\r\n-ERR e\r\n+OK\r\n", 2);
  ASSERT_EQ(sink_.seen.size(), 6u);
  for (const Seen& s : sink_.seen) EXPECT_NE(s.reply, "none:reply_off") << s.words;
  EXPECT_EQ(sink_.seen[5].reply, "simple:OK");
}

TEST_F(SessionTest, ClientReplyWithABadArgumentIsAnErrorAndChangesNothing) {
  requests_.Feed("CLIENT REPLY FOO\r\nCLIENT REPLY\r\nCLIENT REPLY OFF X\r\nPING\r\n", 1);
  replies_.Feed("-ERR syntax error\r\n-ERR wrong number of arguments for 'client|reply' command\r\n"
                "-ERR wrong number of arguments for 'client|reply' command\r\n+PONG\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen),
            (std::vector<std::string>{
                "CLIENT REPLY FOO -> error:ERR syntax error",
                "CLIENT REPLY -> error:ERR wrong number of arguments for 'client|reply' command",
                "CLIENT REPLY OFF X -> error:ERR wrong number of arguments for 'client|reply' command",
                "PING -> simple:PONG"}));
}

TEST_F(SessionTest, WhileRepliesAreOffEvenErrorsAreSilent) {
  // A bad argument's error, and a request the server cannot parse, get no reply either.
  requests_.Feed("CLIENT REPLY OFF\r\nCLIENT REPLY FOO\r\nCLIENT REPLY ON\r\nCLIENT REPLY SKIP\r\n"
                 "SET k \"unbalanced\r\n", 1);
  replies_.Feed("+OK\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"CLIENT REPLY OFF -> none:reply_off",
                                                         "CLIENT REPLY FOO -> none:reply_off",
                                                         "CLIENT REPLY ON -> simple:OK",
                                                         "CLIENT REPLY SKIP -> none:reply_off",
                                                         " -> none:reply_off"}));
  EXPECT_EQ(sink_.seen[4].malformed, "unbalanced_quotes");
}

TEST_F(SessionTest, ResetTurnsRepliesBackOnButDoesNotUndoASkip) {
  // Redis's RESET clears CLIENT REPLY OFF; the skip of the command being run stays.
  requests_.Feed("CLIENT REPLY OFF\r\nRESET\r\nCLIENT REPLY SKIP\r\nRESET\r\nPING\r\n", 1);
  replies_.Feed("+RESET\r\n+PONG\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"CLIENT REPLY OFF -> none:reply_off",
                                                         "RESET -> simple:RESET",
                                                         "CLIENT REPLY SKIP -> none:reply_off",
                                                         "RESET -> none:reply_off",
                                                         "PING -> simple:PONG"}));
}

TEST_F(SessionTest, SilentCommandsKeepTheirReasonWhenTheConnectionEnds) {
  requests_.Feed("GET a\r\nCLIENT REPLY SKIP\r\nGET b\r\nGET c\r\n", 1);
  session_.Close(NoReply::kClosed);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"GET a -> none:closed",
                                                         "CLIENT REPLY SKIP -> none:reply_off",
                                                         "GET b -> none:reply_off",
                                                         "GET c -> none:closed"}));
}

TEST_F(SessionTest, SilentCommandsKeepTheirReasonWhenRepliesAreLost) {
  requests_.Feed("GET a\r\nCLIENT REPLY SKIP\r\nGET b\r\nGET c\r\n", 1);
  replies_.Feed("$5\r\nva", 2);
  replies_.OnGap(100, 3);  // past the bulk: the rest of the replies are unknown
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"GET a -> none:gap",
                                                         "CLIENT REPLY SKIP -> none:reply_off",
                                                         "GET b -> none:reply_off",
                                                         "GET c -> none:gap"}));
  EXPECT_TRUE(session_.desynced());
}

TEST_F(SessionTest, AfterLostRequestsTheReplyModeIsUnknownAndCommandsWaitForReplies) {
  requests_.Feed("PING\r\nCLIENT REPLY OFF\r\nPING\r\n", 1);
  requests_.OnGap(17, 2);  // perhaps a CLIENT REPLY ON
  requests_.Feed("\r\n*1\r\n$4\r\nPING\r\n", 3);
  // The PING after the gap waits for a reply like the three before it.
  EXPECT_EQ(session_.pending(), 4u);
  EXPECT_TRUE(sink_.seen.empty());
  replies_.Feed("+PONG\r\n", 4);
  ASSERT_EQ(sink_.seen.size(), 3u);
  EXPECT_EQ(sink_.seen[0].reply, "simple:PONG");
  EXPECT_EQ(sink_.seen[2].reply, "none:reply_off");
  // Had the lost bytes turned replies on, this would be the last PING's reply, or a lost
  // command's: not paired. The PING waits to be proven in step, and nothing proves it.
  replies_.Feed("+PONG\r\n", 5);
  EXPECT_EQ(sink_.seen.size(), 3u);
  EXPECT_TRUE(session_.desynced());
  session_.Close(NoReply::kEndOfCapture);
  ASSERT_EQ(sink_.seen.size(), 4u);
  EXPECT_EQ(sink_.seen[3].reply, "none:desync");
  EXPECT_EQ(counters_.orphan_replies, 1u);
}

TEST(SessionReplyModeTest, FollowedWhenValuesAreNotKept) {
  SessionOptions options;
  options.message.keep_values = false;
  NullSink sink;
  SessionCounters counters;
  Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
  RespParser requests(RespRole::kRequest, RespLimits{}, session.request_handler());
  RespParser replies(RespRole::kReply, RespLimits{}, session.reply_handler());
  requests.Feed("CLIENT REPLY OFF\r\nPING\r\nCLIENT REPLY ON\r\nPING\r\n", 1);
  replies.Feed("+OK\r\n+PONG\r\n", 2);
  EXPECT_EQ(counters.replies, 2u);
  EXPECT_EQ(counters.unanswered, 2u);
  EXPECT_EQ(counters.orphan_replies, 0u);
}

// Pub/sub and the protocol version, as Redis 7 answers them (checked against redis-server).

// Each confirmation of a record's reply, "type:first scalar|..." (the record's reply alone
// when it has no confirmations).
std::string Confirmations(const Record& r) {
  std::string out;
  for (const Message* m : r.replies) {
    const ValueNode* root = m->root();
    if (!out.empty()) out += '|';
    out += std::string(RespTypeName(root->type)) + ":";
    for (const ValueNode* c = Message::first_child(root); c != root + root->subtree; c = Message::next_sibling(c)) {
      out += std::string(m->data(*c)) + (c->type == RespType::kNull ? "(nil)" : "") + ",";
    }
  }
  return out;
}

// A value whole: a scalar's data ("(nil)" for null), an aggregate's "type[child,...]".
std::string Tree(const Message& m, const ValueNode* n) {
  if (!IsAggregate(n->type)) return n->type == RespType::kNull ? "(nil)" : std::string(m.data(*n));
  std::string out = std::string(RespTypeName(n->type)) + "[";
  const ValueNode* c = Message::first_child(n);
  for (uint32_t i = 0; i < n->children; ++i, c = Message::next_sibling(c)) {
    if (i) out += ',';
    out += Tree(m, c);
  }
  return out + "]";
}

class ConfirmationSink : public RecordingSink {
 public:
  void Write(const Record& r) override {
    RecordingSink::Write(r);
    confirmations.push_back(Confirmations(r));
    reply_bytes.push_back(r.reply_bytes());
    trees.push_back(r.reply != nullptr && r.reply->root() != nullptr ? Tree(*r.reply, r.reply->root()) : "");
  }
  std::vector<std::string> confirmations;
  std::vector<uint64_t> reply_bytes;
  std::vector<std::string> trees;  // each record's reply, whole
};

class SessionPubSubTest : public ::testing::Test {
 protected:
  SessionPubSubTest()
      : session_(options_, client_, server_, &sink_, &counters_),
        requests_(RespRole::kRequest, RespLimits{}, session_.request_handler()),
        replies_(RespRole::kReply, RespLimits{}, session_.reply_handler()) {
    session_.set_request_parser(&requests_);
  }
  std::vector<std::string> Kinds() const {
    std::vector<std::string> out;
    for (const Seen& s : sink_.seen) out.push_back(s.kind + " " + s.words + " -> " + s.reply);
    return out;
  }

  SessionOptions options_;
  Endpoint client_{IpAddress{}, 50000};
  Endpoint server_{IpAddress{}, 6379};
  ConfirmationSink sink_;
  SessionCounters counters_;
  Session session_;
  RespParser requests_;
  RespParser replies_;
};

constexpr char kSubA[] = "*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n";
constexpr char kSubB[] = "*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n";
constexpr char kSubC[] = "*3\r\n$9\r\nsubscribe\r\n$1\r\nc\r\n:3\r\n";

TEST_F(SessionPubSubTest, SubscribeToThreeChannelsTakesThreeConfirmations) {
  requests_.Feed("*4\r\n$9\r\nSUBSCRIBE\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n", 1000);
  replies_.Feed(kSubA, 2000);
  replies_.Feed(kSubB, 3000);
  EXPECT_TRUE(sink_.seen.empty());  // one confirmation is still due
  replies_.Feed(kSubC, 4000);
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.seen[0].reply, "array:subscribe");
  EXPECT_EQ(sink_.confirmations[0], "array:subscribe,a,1,|array:subscribe,b,2,|array:subscribe,c,3,");
  EXPECT_EQ(sink_.seen[0].latency_ns, 3000);  // to the last confirmation
  EXPECT_EQ(sink_.reply_bytes[0], 3 * std::string(kSubA).size());
  EXPECT_EQ(counters_.replies, 1u);
  EXPECT_EQ(counters_.pushes, 0u);
  EXPECT_EQ(session_.pending(), 0u);
}

TEST_F(SessionPubSubTest, SubscribeInsideMultiTakesEffectAtExec) {
  // Redis 7.0.15's bytes: EXEC's array counts the one queued command, holds its first
  // confirmation, and the second follows the array, answering nothing.
  requests_.Feed("MULTI\r\nSUBSCRIBE a b\r\nEXEC\r\nPING\r\n", 1);
  replies_.Feed("+OK\r\n+QUEUED\r\n*1\r\n" + std::string(kSubA) + kSubB, 2);
  replies_.Feed("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n", 3);
  replies_.Feed("*2\r\n$4\r\npong\r\n$0\r\n\r\n", 4);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command MULTI -> simple:OK",
                                               "command SUBSCRIBE a b -> simple:QUEUED",
                                               "command EXEC -> array:",
                                               "push  -> array:subscribe",
                                               "push  -> array:message",
                                               "command PING -> array:pong"}));
  EXPECT_EQ(counters_.orphan_replies, 0u);
}

TEST_F(SessionPubSubTest, SubscribeInsideMultiInResp3) {
  requests_.Feed("HELLO 3\r\nMULTI\r\nSUBSCRIBE a b\r\nEXEC\r\nPING\r\n", 1);
  replies_.Feed("%1\r\n$5\r\nproto\r\n:3\r\n+OK\r\n+QUEUED\r\n", 2);
  replies_.Feed("*1\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n", 3);
  replies_.Feed(">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$5\r\nhello\r\n+PONG\r\n", 4);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command HELLO 3 -> map:proto",
                                               "command MULTI -> simple:OK",
                                               "command SUBSCRIBE a b -> simple:QUEUED",
                                               "command EXEC -> array:",
                                               "push  -> push:subscribe",
                                               "push  -> push:message",
                                               "command PING -> simple:PONG"}));
  EXPECT_EQ(counters_.orphan_replies, 0u);
}

TEST_F(SessionPubSubTest, MessagesBetweenConfirmationsArePushes) {
  requests_.Feed("SUBSCRIBE a b\r\n", 1);
  replies_.Feed(kSubA, 2);
  replies_.Feed("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$2\r\nhi\r\n", 3);
  replies_.Feed(kSubB, 4);
  replies_.Feed("*4\r\n$8\r\npmessage\r\n$2\r\nb*\r\n$1\r\nb\r\n$2\r\nho\r\n", 5);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"push  -> array:message",
                                               "command SUBSCRIBE a b -> array:subscribe",
                                               "push  -> array:pmessage"}));
  EXPECT_EQ(sink_.confirmations[1], "array:subscribe,a,1,|array:subscribe,b,2,");
  EXPECT_EQ(counters_.pushes, 2u);
  EXPECT_EQ(counters_.orphan_replies, 0u);
}

TEST_F(SessionPubSubTest, PingWhileSubscribedAndCommandsTheServerRefuses) {
  requests_.Feed("SUBSCRIBE a\r\nPING\r\nGET k\r\nPING hi\r\n", 1);
  replies_.Feed(kSubA, 2);
  replies_.Feed("*2\r\n$4\r\npong\r\n$0\r\n\r\n", 3);
  replies_.Feed("-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET "
                "are allowed in this context\r\n", 4);
  replies_.Feed("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nx\r\n", 5);
  replies_.Feed("*2\r\n$4\r\npong\r\n$2\r\nhi\r\n", 6);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{
                         "command SUBSCRIBE a -> array:subscribe", "command PING -> array:pong",
                         "command GET k -> error:ERR Can't execute 'get': only (P|S)SUBSCRIBE / "
                         "(P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
                         "push  -> array:message", "command PING hi -> array:pong"}));
  EXPECT_EQ(sink_.confirmations[1], "");  // PING's reply is no confirmation
}

TEST_F(SessionPubSubTest, UnsubscribeWithoutChannelsTakesOneConfirmationPerChannel) {
  requests_.Feed("SUBSCRIBE a b\r\nPSUBSCRIBE p*\r\nUNSUBSCRIBE\r\nUNSUBSCRIBE\r\n", 1);
  replies_.Feed(kSubA, 2);
  replies_.Feed(kSubB, 2);
  replies_.Feed("*3\r\n$10\r\npsubscribe\r\n$2\r\np*\r\n:3\r\n", 3);
  // Channels go; the pattern stays, counted in the server's number.
  replies_.Feed("*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:2\r\n", 4);
  replies_.Feed("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n", 5);
  // Nothing left to unsubscribe from: one confirmation naming no channel.
  replies_.Feed("*3\r\n$11\r\nunsubscribe\r\n$-1\r\n:1\r\n", 6);
  ASSERT_EQ(sink_.seen.size(), 4u);
  EXPECT_EQ(sink_.confirmations[2], "array:unsubscribe,b,2,|array:unsubscribe,a,1,");
  EXPECT_EQ(sink_.confirmations[3], "array:unsubscribe,(nil),1,");
  // Still subscribed to the pattern: its messages are pushes.
  replies_.Feed("*4\r\n$8\r\npmessage\r\n$2\r\np*\r\n$2\r\npq\r\n$1\r\nx\r\n", 7);
  ASSERT_EQ(sink_.seen.size(), 5u);
  EXPECT_EQ(sink_.seen[4].kind, "push");
}

TEST_F(SessionPubSubTest, AtZeroSubscriptionsRepliesPairAsUsual) {
  requests_.Feed("SUBSCRIBE a\r\nUNSUBSCRIBE a\r\nLRANGE l 0 -1\r\n", 1);
  replies_.Feed(kSubA, 2);
  replies_.Feed("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n", 3);
  // Out of subscribed mode, an array that reads like a message is a reply like any other.
  replies_.Feed("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n", 4);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command SUBSCRIBE a -> array:subscribe",
                                               "command UNSUBSCRIBE a -> array:unsubscribe",
                                               "command LRANGE l 0 -1 -> array:message"}));
  EXPECT_EQ(counters_.pushes, 0u);
}

TEST_F(SessionPubSubTest, AnErrorAnswersASubscribeAlone) {
  requests_.Feed("SUBSCRIBE\r\nPING\r\n", 1);
  replies_.Feed("-ERR wrong number of arguments for 'subscribe' command\r\n+PONG\r\n", 2);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{
                         "command SUBSCRIBE -> error:ERR wrong number of arguments for 'subscribe' command",
                         "command PING -> simple:PONG"}));
  EXPECT_EQ(sink_.confirmations[0], "");
}

TEST_F(SessionPubSubTest, FewerConfirmationsThanExpectedEndTheRunAndTheNextReplyPairsOn) {
  // Joined after two pattern subscriptions we never saw: the server's count of 3 reads as
  // three channels, and UNSUBSCRIBE takes the one confirmation that comes.
  requests_.Feed("SUBSCRIBE a\r\nUNSUBSCRIBE\r\nPING\r\n", 1);
  replies_.Feed("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:3\r\n", 2);
  replies_.Feed("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:2\r\n", 3);
  EXPECT_EQ(sink_.seen.size(), 1u);
  replies_.Feed("*2\r\n$4\r\npong\r\n$0\r\n\r\n", 4);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command SUBSCRIBE a -> array:subscribe",
                                               "command UNSUBSCRIBE -> array:unsubscribe",
                                               "command PING -> array:pong"}));
  EXPECT_EQ(sink_.confirmations[1], "array:unsubscribe,a,2,");
  EXPECT_EQ(counters_.orphan_replies, 0u);
}

TEST_F(SessionPubSubTest, ShardChannelsAreCountedApart) {
  requests_.Feed("SSUBSCRIBE s\r\nSUBSCRIBE a\r\nSUNSUBSCRIBE\r\n", 1);
  replies_.Feed("*3\r\n$10\r\nssubscribe\r\n$1\r\ns\r\n:1\r\n", 2);
  replies_.Feed(kSubA, 3);
  replies_.Feed("*3\r\n$8\r\nsmessage\r\n$1\r\ns\r\n$1\r\nx\r\n", 4);
  replies_.Feed("*3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n", 5);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command SSUBSCRIBE s -> array:ssubscribe",
                                               "command SUBSCRIBE a -> array:subscribe",
                                               "push  -> array:smessage",
                                               "command SUNSUBSCRIBE -> array:sunsubscribe"}));
}

TEST_F(SessionPubSubTest, ConnectionEndingMidConfirmationsKeepsThoseThatCame) {
  requests_.Feed("SUBSCRIBE a b c\r\n", 1);
  replies_.Feed(kSubA, 2);
  session_.Close(NoReply::kClosed);
  ASSERT_EQ(sink_.seen.size(), 1u);
  EXPECT_EQ(sink_.confirmations[0], "array:subscribe,a,1,");
  EXPECT_EQ(counters_.replies, 1u);
}

// RESP3: confirmations and messages are `>` pushes.
TEST_F(SessionPubSubTest, Resp3PushesMidPipelineDoNotShiftPairing) {
  requests_.Feed("GET a\r\nGET b\r\nGET c\r\n", 1);
  replies_.Feed("$1\r\n1\r\n>2\r\n$10\r\ninvalidate\r\n*1\r\n$1\r\na\r\n$1\r\n2\r\n", 2);
  replies_.Feed(">3\r\n$7\r\nmessage\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\n3\r\n", 3);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command GET a -> bulk:1", "push  -> push:invalidate",
                                               "command GET b -> bulk:2", "push  -> push:message",
                                               "command GET c -> bulk:3"}));
}

TEST_F(SessionPubSubTest, Resp3ConfirmationsAreTheSubscribesReplies) {
  requests_.Feed("HELLO 3\r\nSUBSCRIBE a b\r\nGET k\r\nUNSUBSCRIBE\r\n", 1);
  replies_.Feed("%1\r\n+proto\r\n:3\r\n", 2);
  replies_.Feed(">3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n", 3);
  replies_.Feed(">3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nm\r\n", 4);
  replies_.Feed(">3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:2\r\n", 5);
  // RESP3 runs any command while subscribed: an array reply is a reply.
  replies_.Feed("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n", 6);
  replies_.Feed(">3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:1\r\n>3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n", 7);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command HELLO 3 -> map:proto",
                                               "push  -> push:message",
                                               "command SUBSCRIBE a b -> push:subscribe",
                                               "command GET k -> array:message",
                                               "command UNSUBSCRIBE -> push:unsubscribe"}));
  EXPECT_EQ(sink_.confirmations[2], "push:subscribe,a,1,|push:subscribe,b,2,");
  EXPECT_EQ(sink_.confirmations[4], "push:unsubscribe,a,1,|push:unsubscribe,b,0,");
  EXPECT_EQ(counters_.pushes, 1u);
}

TEST_F(SessionPubSubTest, Resp3ConfirmationNoCommandAwaitsIsAPush) {
  // A cluster takes a shard channel away with an unasked-for sunsubscribe.
  requests_.Feed("HELLO 3\r\nPING\r\n", 1);
  replies_.Feed("%1\r\n+proto\r\n:3\r\n>3\r\n$12\r\nsunsubscribe\r\n$1\r\ns\r\n:0\r\n+PONG\r\n", 2);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command HELLO 3 -> map:proto",
                                               "push  -> push:sunsubscribe", "command PING -> simple:PONG"}));
}

TEST_F(SessionPubSubTest, HelloSwitchesOnlyWhenTheServerAgrees) {
  // HELLO 3 refused: still RESP2, where a message array while subscribed is a push.
  requests_.Feed("HELLO 3\r\nSUBSCRIBE a\r\n", 1);
  replies_.Feed("-NOPROTO unsupported protocol version\r\n", 2);
  replies_.Feed(kSubA, 3);
  replies_.Feed("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nm\r\n", 4);
  EXPECT_EQ(sink_.seen.back().kind, "push");
  // RESP3: the same array is an ordinary reply (LRANGE's, here).
  requests_.Feed("RESET\r\nHELLO 3\r\nSUBSCRIBE a\r\nLRANGE l 0 -1\r\nHELLO 2\r\n", 5);
  replies_.Feed("+RESET\r\n%1\r\n+proto\r\n:3\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n", 6);
  replies_.Feed("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nm\r\n", 7);
  replies_.Feed("*2\r\n$5\r\nproto\r\n:2\r\n", 8);
  // Back in RESP2 and still subscribed: the array is a message again.
  replies_.Feed("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nm\r\n", 9);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{
                         "command HELLO 3 -> error:NOPROTO unsupported protocol version",
                         "command SUBSCRIBE a -> array:subscribe", "push  -> array:message",
                         "command RESET -> simple:RESET", "command HELLO 3 -> map:proto",
                         "command SUBSCRIBE a -> push:subscribe", "command LRANGE l 0 -1 -> array:message",
                         "command HELLO 2 -> array:proto", "push  -> array:message"}));
}

TEST_F(SessionPubSubTest, ResetLeavesSubscribedModeAndResp3) {
  requests_.Feed("HELLO 3\r\nSUBSCRIBE a\r\nRESET\r\nLRANGE l 0 -1\r\n", 1);
  replies_.Feed("%1\r\n+proto\r\n:3\r\n>3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n:1\r\n+RESET\r\n", 2);
  // RESP2 and no subscription: an array that reads like a message is LRANGE's reply.
  replies_.Feed("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n", 3);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command HELLO 3 -> map:proto",
                                               "command SUBSCRIBE a -> push:subscribe",
                                               "command RESET -> simple:RESET",
                                               "command LRANGE l 0 -1 -> array:message"}));
  // The same in RESP2 subscribed mode, where RESET is allowed.
  requests_.Feed("SUBSCRIBE a\r\nRESET\r\nLRANGE l 0 -1\r\n", 4);
  replies_.Feed(kSubA, 5);
  replies_.Feed("+RESET\r\n*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nb\r\n", 6);
  ASSERT_EQ(sink_.seen.size(), 7u);
  EXPECT_EQ(sink_.seen[6].kind + " " + sink_.seen[6].reply, "command array:message");
}

TEST_F(SessionPubSubTest, ResetTheServerDoesNotAnswerStillResets) {
  // RESET under CLIENT REPLY SKIP is run all the same: back to RESP2, where the message that
  // follows the next SUBSCRIBE is an array.
  requests_.Feed("HELLO 3\r\nCLIENT REPLY SKIP\r\nRESET\r\nSUBSCRIBE b\r\n", 1);
  replies_.Feed("%1\r\n+proto\r\n:3\r\n", 2);
  replies_.Feed("*3\r\n$9\r\nsubscribe\r\n$1\r\nb\r\n:1\r\n*3\r\n$7\r\nmessage\r\n$1\r\nb\r\n$1\r\nx\r\n", 3);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command HELLO 3 -> map:proto",
                                               "command CLIENT REPLY SKIP -> none:reply_off",
                                               "command RESET -> none:reply_off",
                                               "command SUBSCRIBE b -> array:subscribe",
                                               "push  -> array:message"}));
  EXPECT_EQ(counters_.orphan_replies, 0u);
}

TEST_F(SessionPubSubTest, CommandNamesMatchInAnyCaseAndAcrossPieces) {
  requests_.Feed("*3\r\n$11\r\nuNsUb", 1);
  requests_.Feed("ScRiBe\r\n$1\r\na\r\n$1\r\nb\r\n", 2);
  requests_.Feed("*2\r\n$9\r\nSUBSCRIBX\r\n$1\r\na\r\n", 3);
  replies_.Feed("*3\r\n$11\r\nunsubscribe\r\n$1\r\na\r\n:0\r\n*3\r\n$11\r\nunsubscribe\r\n$1\r\nb\r\n:0\r\n", 4);
  replies_.Feed("-ERR unknown command\r\n", 5);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command uNsUbScRiBe a b -> array:unsubscribe",
                                               "command SUBSCRIBX a -> error:ERR unknown command"}));
  EXPECT_EQ(sink_.confirmations[0], "array:unsubscribe,a,0,|array:unsubscribe,b,0,");
}

TEST(SessionPubSubValuesTest, FollowedWhenValuesAreNotKept) {
  SessionOptions options;
  options.message.keep_values = false;
  NullSink sink;
  SessionCounters counters;
  Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
  RespParser requests(RespRole::kRequest, RespLimits{}, session.request_handler());
  RespParser replies(RespRole::kReply, RespLimits{}, session.reply_handler());
  requests.Feed("SUBSCRIBE a b\r\nPING\r\n", 1);
  replies.Feed(kSubA, 2);
  replies.Feed("*3\r\n$7\r\nmessage\r\n$1\r\na\r\n$1\r\nm\r\n", 3);
  replies.Feed(kSubB, 4);
  replies.Feed("*2\r\n$4\r\npong\r\n$0\r\n\r\n", 5);
  EXPECT_EQ(counters.replies, 2u);
  EXPECT_EQ(counters.pushes, 1u);
  EXPECT_EQ(counters.orphan_replies, 0u);
  EXPECT_EQ(session.pending(), 0u);
}

// Client-side caching (CLIENT TRACKING), as Redis 7 sends its invalidations (checked against
// redis-server): in RESP3 a `>2 invalidate <keys>` push on the tracking connection itself; in
// RESP2, with REDIRECT, a message on `__redis__:invalidate` to the connection redirected to,
// whose third element is the array of keys.

constexpr char kHello3[] = "%1\r\n+proto\r\n:3\r\n";
constexpr char kInvalidateKey[] = ">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n";

TEST_F(SessionPubSubTest, Resp3InvalidationsArePushesAndEveryGetKeepsItsReply) {
  requests_.Feed("HELLO 3\r\nCLIENT TRACKING ON\r\nGET key\r\n", 1);
  replies_.Feed(std::string(kHello3) + "+OK\r\n$1\r\nv\r\n", 2);
  // Another connection sets the key: the invalidation comes alone, between replies.
  replies_.Feed(kInvalidateKey, 3);
  // A pipeline of GETs: an invalidation comes before its first reply, another between two of
  // its replies, that one split across segments.
  requests_.Feed("GET key\r\nGET a\r\nGET b\r\n", 4);
  replies_.Feed(std::string(kInvalidateKey) + "$2\r\nv2\r\n>2\r\n$10\r\ninvali", 5);
  replies_.Feed("date\r\n*1\r\n$3\r\nkey\r\n$1\r\n1\r\n", 6);
  // FLUSHALL invalidates every key: the push carries null in place of the keys.
  replies_.Feed("$1\r\n2\r\n>2\r\n$10\r\ninvalidate\r\n_\r\n", 7);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{
                         "command HELLO 3 -> map:proto", "command CLIENT TRACKING ON -> simple:OK",
                         "command GET key -> bulk:v", "push  -> push:invalidate", "push  -> push:invalidate",
                         "command GET key -> bulk:v2", "push  -> push:invalidate", "command GET a -> bulk:1",
                         "command GET b -> bulk:2", "push  -> push:invalidate"}));
  EXPECT_EQ(sink_.trees[3], "push[invalidate,array[key]]");
  EXPECT_EQ(sink_.trees[6], "push[invalidate,array[key]]");
  EXPECT_EQ(sink_.trees[9], "push[invalidate,(nil)]");
  EXPECT_EQ(sink_.seen[5].latency_ns, 1);  // GET key's reply, after the push that came first
  EXPECT_EQ(counters_.replies, 6u);
  EXPECT_EQ(counters_.pushes, 4u);
  EXPECT_EQ(counters_.orphan_replies, 0u);
  EXPECT_EQ(session_.pending(), 0u);
}

TEST_F(SessionPubSubTest, Resp3InvalidationsBetweenConfirmationsArePushes) {
  // While confirmations are due, pushes are read: an invalidation, in either form, is no
  // confirmation.
  requests_.Feed("HELLO 3\r\nSUBSCRIBE __redis__:invalidate x\r\n", 1);
  replies_.Feed(std::string(kHello3) + ">3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n", 2);
  replies_.Feed(kInvalidateKey, 3);
  replies_.Feed(">3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n", 4);
  replies_.Feed(">3\r\n$9\r\nsubscribe\r\n$1\r\nx\r\n:2\r\n", 5);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command HELLO 3 -> map:proto", "push  -> push:invalidate",
                                               "push  -> push:message",
                                               "command SUBSCRIBE __redis__:invalidate x -> push:subscribe"}));
  EXPECT_EQ(sink_.trees[2], "push[message,__redis__:invalidate,array[a,b]]");
  EXPECT_EQ(sink_.confirmations[3], "push:subscribe,__redis__:invalidate,1,|push:subscribe,x,2,");
}

constexpr char kSubInvalidate[] = "*3\r\n$9\r\nsubscribe\r\n$20\r\n__redis__:invalidate\r\n:1\r\n";
constexpr char kInvalidateMessage[] = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*1\r\n$1\r\nk\r\n";

TEST_F(SessionPubSubTest, Resp2RedirectedInvalidationsAreMessagesWithAnArrayOfKeys) {
  // Connection A (this session) subscribes to the invalidation channel.
  requests_.Feed("CLIENT ID\r\nSUBSCRIBE __redis__:invalidate\r\n", 1);
  replies_.Feed(std::string(":7\r\n") + kSubInvalidate, 2);
  // Connection B tracks with REDIRECT 7 and reads k; a third sets it.
  ConfirmationSink b_sink;
  SessionCounters b_counters;
  Session b(options_, Endpoint{IpAddress{}, 50001}, server_, &b_sink, &b_counters);
  RespParser b_requests(RespRole::kRequest, RespLimits{}, b.request_handler());
  RespParser b_replies(RespRole::kReply, RespLimits{}, b.reply_handler());
  b.set_request_parser(&b_requests);
  b_requests.Feed("CLIENT TRACKING on REDIRECT 7\r\nGET k\r\n", 3);
  b_replies.Feed("+OK\r\n$1\r\nv\r\n", 4);
  EXPECT_EQ(b_sink.trees, (std::vector<std::string>{"OK", "v"}));
  EXPECT_EQ(b_counters.pushes, 0u);
  // A gets the invalidation: a message whose third element is an array of keys.
  replies_.Feed(kInvalidateMessage, 5);
  // A PING while subscribed pairs with its own reply, one that came after another
  // invalidation (two keys, split across segments) included.
  requests_.Feed("PING\r\n", 6);
  replies_.Feed("*2\r\n$4\r\npong\r\n$0\r\n\r\n", 7);
  requests_.Feed("PING\r\n", 8);
  replies_.Feed("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n*2\r\n$1\r\na\r\n", 9);
  replies_.Feed("$1\r\nb\r\n*2\r\n$4\r\npong\r\n$0\r\n\r\n", 10);
  // FLUSHALL: the keys are null.
  replies_.Feed("*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n$-1\r\n", 11);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command CLIENT ID -> integer:7",
                                               "command SUBSCRIBE __redis__:invalidate -> array:subscribe",
                                               "push  -> array:message", "command PING -> array:pong",
                                               "push  -> array:message", "command PING -> array:pong",
                                               "push  -> array:message"}));
  EXPECT_EQ(sink_.trees[2], "array[message,__redis__:invalidate,array[k]]");
  EXPECT_EQ(sink_.trees[4], "array[message,__redis__:invalidate,array[a,b]]");
  EXPECT_EQ(sink_.trees[6], "array[message,__redis__:invalidate,(nil)]");
  EXPECT_EQ(sink_.seen[5].latency_ns, 2);
  EXPECT_EQ(counters_.pushes, 3u);
  EXPECT_EQ(counters_.replies, 4u);
  EXPECT_EQ(counters_.orphan_replies, 0u);
  EXPECT_EQ(session_.pending(), 0u);
}

TEST_F(SessionPubSubTest, Resp2OnlyAMessagesThirdElementMayBeAnAggregate) {
  // While subscribed, arrays the server never sends are not taken for messages or
  // confirmations: an aggregate as the channel, a pmessage's pattern, or a confirmation's count.
  requests_.Feed("SUBSCRIBE a\r\nPING\r\nPING\r\nPING\r\n", 1);
  replies_.Feed(kSubA, 2);
  replies_.Feed("*3\r\n$7\r\nmessage\r\n*1\r\n$1\r\na\r\n$1\r\nx\r\n", 3);
  replies_.Feed("*4\r\n$8\r\npmessage\r\n*0\r\n$1\r\na\r\n$1\r\nx\r\n", 4);
  replies_.Feed("*3\r\n$9\r\nsubscribe\r\n$1\r\na\r\n*1\r\n:1\r\n", 5);
  EXPECT_EQ(Kinds(), (std::vector<std::string>{"command SUBSCRIBE a -> array:subscribe",
                                               "command PING -> array:message", "command PING -> array:pmessage",
                                               "command PING -> array:subscribe"}));
}

TEST(SessionTrackingValuesTest, FollowedWhenValuesAreNotKept) {
  SessionOptions options;
  options.message.keep_values = false;
  NullSink sink;
  SessionCounters counters;
  Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
  RespParser requests(RespRole::kRequest, RespLimits{}, session.request_handler());
  RespParser replies(RespRole::kReply, RespLimits{}, session.reply_handler());
  requests.Feed("SUBSCRIBE __redis__:invalidate\r\nPING\r\n", 1);
  replies.Feed(kSubInvalidate, 2);
  replies.Feed(kInvalidateMessage, 3);
  replies.Feed("*2\r\n$4\r\npong\r\n$0\r\n\r\n", 4);
  EXPECT_EQ(counters.replies, 2u);
  EXPECT_EQ(counters.pushes, 1u);
  EXPECT_EQ(counters.orphan_replies, 0u);
  EXPECT_EQ(session.pending(), 0u);
}

// MULTI / EXEC / DISCARD, as Redis 7 answers them (checked against redis-server).

// "words -> reply [transaction => exec_result]" for each record, in the order written.
std::vector<std::string> TxPairs(const std::vector<Seen>& seen) {
  std::vector<std::string> out;
  for (const Seen& s : seen) {
    std::string line = s.words + " -> " + s.reply;
    if (!s.transaction.empty()) line += " [" + s.transaction;
    if (!s.exec_result.empty()) line += " => " + s.exec_result;
    if (!s.transaction.empty()) line += "]";
    out.push_back(line);
  }
  return out;
}

TEST_F(SessionTest, ExecLinksEachQueuedCommandToItsResultAndRecordsWaitForIt) {
  requests_.Feed("MULTI\r\nSET k v\r\nINCR n\r\nGET k\r\nEXEC\r\n", 1);
  replies_.Feed("+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n", 2);
  // The queued commands wait for EXEC's reply.
  EXPECT_EQ(TxPairs(sink_.seen), (std::vector<std::string>{"MULTI -> simple:OK"}));
  replies_.Feed("*3\r\n+OK\r\n:1\r\n$1\r\nv\r\n", 3);
  EXPECT_EQ(TxPairs(sink_.seen), (std::vector<std::string>{
                                     "MULTI -> simple:OK",
                                     "SET k v -> simple:QUEUED [exec => simple:OK]",
                                     "INCR n -> simple:QUEUED [exec => integer:1]",
                                     "GET k -> simple:QUEUED [exec => bulk:v]",
                                     "EXEC -> array:OK",
                                 }));
  // Latency stays the QUEUED reply's.
  EXPECT_EQ(sink_.seen[1].latency_ns, 1);
  EXPECT_EQ(counters_.replies, 5u);
  EXPECT_EQ(session_.pending(), 0u);
  // Out of the transaction, records are written at once again.
  requests_.Feed("PING\r\n", 4);
  replies_.Feed("+PONG\r\n", 5);
  EXPECT_EQ(sink_.seen.size(), 6u);
}

TEST_F(SessionTest, CommandRejectedWhileQueuingMakesExecAbort) {
  requests_.Feed("MULTI\r\nSET k v\r\nNOSUCH\r\nINCR n\r\nEXEC\r\n", 1);
  replies_.Feed("+OK\r\n+QUEUED\r\n-ERR unknown command 'NOSUCH', with args beginning with: \r\n"
                "+QUEUED\r\n-EXECABORT Transaction discarded because of previous errors.\r\n", 2);
  EXPECT_EQ(TxPairs(sink_.seen),
            (std::vector<std::string>{
                "MULTI -> simple:OK",
                "SET k v -> simple:QUEUED [execabort]",
                "NOSUCH -> error:ERR unknown command 'NOSUCH', with args beginning with: ",
                "INCR n -> simple:QUEUED [execabort]",
                "EXEC -> error:EXECABORT Transaction discarded because of previous errors.",
            }));
}

TEST_F(SessionTest, NullExecIsAWatchAbortInBothProtocols) {
  requests_.Feed("WATCH k\r\nMULTI\r\nGET k\r\nEXEC\r\nMULTI\r\nGET k\r\nEXEC\r\n", 1);
  replies_.Feed("+OK\r\n+OK\r\n+QUEUED\r\n*-1\r\n+OK\r\n+QUEUED\r\n_\r\n", 2);
  EXPECT_EQ(TxPairs(sink_.seen), (std::vector<std::string>{
                                     "WATCH k -> simple:OK",
                                     "MULTI -> simple:OK",
                                     "GET k -> simple:QUEUED [watch_abort]",
                                     "EXEC -> null:",
                                     "MULTI -> simple:OK",
                                     "GET k -> simple:QUEUED [watch_abort]",
                                     "EXEC -> null:",
                                 }));
}

TEST_F(SessionTest, DiscardAndResetDropTheTransaction) {
  requests_.Feed("MULTI\r\nSET k v\r\nDISCARD\r\nmulti\r\nINCR n\r\nreset\r\nEXEC\r\n", 1);
  replies_.Feed("+OK\r\n+QUEUED\r\n+OK\r\n+OK\r\n+QUEUED\r\n+RESET\r\n-ERR EXEC without MULTI\r\n", 2);
  EXPECT_EQ(TxPairs(sink_.seen), (std::vector<std::string>{
                                     "MULTI -> simple:OK",
                                     "SET k v -> simple:QUEUED [discard]",
                                     "DISCARD -> simple:OK",
                                     "multi -> simple:OK",
                                     "INCR n -> simple:QUEUED [discard]",
                                     "reset -> simple:RESET",
                                     "EXEC -> error:ERR EXEC without MULTI",
                                 }));
}

TEST_F(SessionTest, NestedMultiIsAnErrorAndTheTransactionGoesOn) {
  requests_.Feed("MULTI\r\nMULTI\r\nWATCH k\r\nSET k v\r\nEXEC\r\n", 1);
  replies_.Feed("+OK\r\n-ERR MULTI calls can not be nested\r\n-ERR WATCH inside MULTI is not allowed\r\n"
                "+QUEUED\r\n*1\r\n+OK\r\n", 2);
  EXPECT_EQ(TxPairs(sink_.seen), (std::vector<std::string>{
                                     "MULTI -> simple:OK",
                                     "MULTI -> error:ERR MULTI calls can not be nested",
                                     "WATCH k -> error:ERR WATCH inside MULTI is not allowed",
                                     "SET k v -> simple:QUEUED [exec => simple:OK]",
                                     "EXEC -> array:OK",
                                 }));
}

TEST_F(SessionTest, ExecOrDiscardWithoutMultiIsAnError) {
  requests_.Feed("EXEC\r\nDISCARD\r\nGET k\r\n", 1);
  replies_.Feed("-ERR EXEC without MULTI\r\n-ERR DISCARD without MULTI\r\n$1\r\nv\r\n", 2);
  EXPECT_EQ(TxPairs(sink_.seen), (std::vector<std::string>{"EXEC -> error:ERR EXEC without MULTI",
                                                           "DISCARD -> error:ERR DISCARD without MULTI",
                                                           "GET k -> bulk:v"}));
}

TEST_F(SessionTest, RefusedMultiOpensNoTransaction) {
  requests_.Feed("MULTI\r\nGET k\r\n", 1);
  replies_.Feed("-NOAUTH Authentication required.\r\n-NOAUTH Authentication required.\r\n", 2);
  EXPECT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[1].transaction, "");
}

TEST_F(SessionTest, TransactionCutByTheConnectionsEndIsReportedWithWhatIsKnown) {
  requests_.Feed("MULTI\r\nSET k v\r\nGET k\r\nEXEC\r\n", 1);
  replies_.Feed("+OK\r\n+QUEUED\r\n", 2);
  session_.Close(NoReply::kClosed);
  EXPECT_EQ(TxPairs(sink_.seen), (std::vector<std::string>{"MULTI -> simple:OK",
                                                           "SET k v -> simple:QUEUED [unknown]",
                                                           "GET k -> none:closed",
                                                           "EXEC -> none:closed"}));
}

TEST_F(SessionTest, TransactionCutByAGapIsReportedWithWhatIsKnown) {
  requests_.Feed("MULTI\r\nSET k v\r\nGET k\r\nEXEC\r\n", 1);
  replies_.Feed("+OK\r\n+QUEUED\r\n+QUE", 2);
  replies_.OnGap(100, 3);
  EXPECT_EQ(TxPairs(sink_.seen), (std::vector<std::string>{"MULTI -> simple:OK",
                                                           "SET k v -> simple:QUEUED [unknown]",
                                                           "GET k -> none:gap",
                                                           "EXEC -> none:gap"}));
  EXPECT_TRUE(session_.desynced());
}

TEST_F(SessionTest, SecretsInExecResultsAreMarked) {
  requests_.Feed("MULTI\r\nCONFIG GET requirepass\r\nCONFIG GET maxmemory\r\nEXEC\r\n", 1);
  replies_.Feed("+OK\r\n+QUEUED\r\n+QUEUED\r\n*2\r\n*2\r\n$11\r\nrequirepass\r\n$6\r\nsecret\r\n"
                "*2\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n", 2);
  ASSERT_EQ(sink_.seen.size(), 4u);
  EXPECT_EQ(sink_.seen[1].exec_result, "array:requirepass");
  EXPECT_EQ(sink_.seen[1].exec_secrets, "secret");
  EXPECT_EQ(sink_.seen[2].exec_result, "array:maxmemory");
  EXPECT_EQ(sink_.seen[2].exec_secrets, "");
}

TEST_F(SessionTest, ExecArrayOfAnotherLengthLinksNoResult) {
  // A queued command this capture did not see: which result is whose is unknown.
  requests_.Feed("MULTI\r\nSET k v\r\nEXEC\r\n", 1);
  replies_.Feed("+OK\r\n+QUEUED\r\n*2\r\n+OK\r\n:1\r\n", 2);
  EXPECT_EQ(TxPairs(sink_.seen), (std::vector<std::string>{"MULTI -> simple:OK",
                                                           "SET k v -> simple:QUEUED [exec]",
                                                           "EXEC -> array:OK"}));
}

TEST_F(SessionTest, ClientReplyInsideATransactionIsQueuedNotRun) {
  requests_.Feed("MULTI\r\nSET k v\r\nCLIENT REPLY OFF\r\nPING\r\n", 1);
  replies_.Feed("+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n", 2);
  EXPECT_EQ(sink_.seen.size(), 1u);  // the queued commands' records wait for the end
  session_.Close(NoReply::kEndOfCapture);
  EXPECT_EQ(TxPairs(sink_.seen), (std::vector<std::string>{"MULTI -> simple:OK",
                                                           "SET k v -> simple:QUEUED [unknown]",
                                                           "CLIENT REPLY OFF -> simple:QUEUED [unknown]",
                                                           "PING -> simple:QUEUED [unknown]"}));
}

TEST_F(SessionTest, TransactionNamesMatchInAnyCaseAndAcrossPiecesOnly) {
  requests_.Feed("*1\r\n$5\r\nmU", 1);
  requests_.Feed("lTi\r\nSET k v\r\nEXEC x\r\nEXEX\r\nMULTIS\r\n*1\r\n$4\r\ne", 2);
  requests_.Feed("XeC\r\n", 3);
  replies_.Feed("+OK\r\n+QUEUED\r\n-ERR wrong number of arguments for 'exec' command\r\n"
                "-ERR unknown command 'EXEX'\r\n-ERR unknown command 'MULTIS'\r\n", 4);
  EXPECT_EQ(sink_.seen.size(), 1u);
  replies_.Feed("-EXECABORT Transaction discarded because of previous errors.\r\n", 5);
  ASSERT_EQ(sink_.seen.size(), 6u);
  EXPECT_EQ(sink_.seen[1].transaction, "execabort");
  for (size_t i = 2; i < 6; ++i) EXPECT_EQ(sink_.seen[i].transaction, "") << i;
}

TEST(SessionTransactionTest, ResultsPastMaxElementsAreNotLinked) {
  SessionOptions options;
  options.message.max_elements = 2;
  RecordingSink sink;
  SessionCounters counters;
  Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
  RespParser requests(RespRole::kRequest, RespLimits{}, session.request_handler());
  RespParser replies(RespRole::kReply, RespLimits{}, session.reply_handler());
  requests.Feed("MULTI\r\nINCR a\r\nINCR b\r\nINCR c\r\nEXEC\r\n", 1);
  replies.Feed("+OK\r\n+QUEUED\r\n+QUEUED\r\n+QUEUED\r\n*3\r\n:1\r\n:2\r\n:3\r\n", 2);
  EXPECT_EQ(TxPairs(sink.seen), (std::vector<std::string>{"MULTI -> simple:OK",
                                                          "INCR a -> simple:QUEUED [exec => integer:1]",
                                                          "INCR b -> simple:QUEUED [exec => integer:2]",
                                                          "INCR c -> simple:QUEUED [exec]",
                                                          "EXEC -> array:1"}));
}

TEST(SessionTransactionTest, PastMaxPendingRecordsAreWrittenUnlinkedAndCounted) {
  SessionOptions options;
  options.max_pending = 2;
  RecordingSink sink;
  SessionCounters counters;
  Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
  RespParser requests(RespRole::kRequest, RespLimits{}, session.request_handler());
  RespParser replies(RespRole::kReply, RespLimits{}, session.reply_handler());
  requests.Feed("MULTI\r\nINCR a\r\n", 1);
  replies.Feed("+OK\r\n+QUEUED\r\n", 2);
  requests.Feed("INCR b\r\n", 3);
  replies.Feed("+QUEUED\r\n", 4);
  EXPECT_EQ(sink.seen.size(), 1u);  // two held
  requests.Feed("INCR c\r\nEXEC\r\n", 5);
  replies.Feed("+QUEUED\r\n", 6);
  EXPECT_EQ(TxPairs(sink.seen), (std::vector<std::string>{"MULTI -> simple:OK",
                                                          "INCR a -> simple:QUEUED [overflow]",
                                                          "INCR b -> simple:QUEUED [overflow]",
                                                          "INCR c -> simple:QUEUED [overflow]"}));
  replies.Feed("*3\r\n:1\r\n:1\r\n:1\r\n", 7);
  EXPECT_EQ(sink.seen.size(), 5u);
  EXPECT_EQ(counters.transaction_overflows, 1u);
  // The next transaction is linked again.
  requests.Feed("MULTI\r\nINCR a\r\n", 8);
  replies.Feed("+OK\r\n+QUEUED\r\n", 9);
  requests.Feed("EXEC\r\n", 10);
  replies.Feed("*1\r\n:2\r\n", 11);
  ASSERT_EQ(sink.seen.size(), 8u);
  EXPECT_EQ(sink.seen[6].exec_result, "integer:2");
}

TEST(SessionTransactionTest, FollowedWhenValuesAreNotKept) {
  SessionOptions options;
  options.message.keep_values = false;
  RecordingSink sink;
  SessionCounters counters;
  Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
  RespParser requests(RespRole::kRequest, RespLimits{}, session.request_handler());
  RespParser replies(RespRole::kReply, RespLimits{}, session.reply_handler());
  requests.Feed("MULTI\r\nINCR a\r\nEXEC\r\n", 1);
  replies.Feed("+OK\r\n+QUEUED\r\n", 2);
  EXPECT_EQ(sink.seen.size(), 1u);
  replies.Feed("*1\r\n:1\r\n", 3);
  ASSERT_EQ(sink.seen.size(), 3u);
  EXPECT_EQ(sink.seen[1].transaction, "exec");
  EXPECT_EQ(counters.replies, 3u);
}

// MONITOR, as redis-server 7.0 answers it: lines after +OK, its own commands' lines after their
// replies, keyspace commands refused, a second MONITOR ignored, RESET ending it.
constexpr char kLineSet[] = "+1700000000.123456 [0 127.0.0.1:50001] \"SET\" \"k\" \"v\"\r\n";
constexpr char kLinePing[] = "+1700000000.223456 [0 127.0.0.1:50000] \"PING\"\r\n";

TEST_F(SessionTest, AfterMonitorsOkEveryLineIsAPush) {
  requests_.Feed("MONITOR\r\n", 1);
  replies_.Feed("+OK\r\n", 2);
  replies_.Feed(kLineSet, 3);
  requests_.Feed("PING\r\nGET k\r\nmonitor\r\nECHO 12\r\n", 4);
  replies_.Feed(std::string("+PONG\r\n") + kLinePing + "-ERR Replica can't interact with the keyspace\r\n" +
                    "$2\r\n12\r\n",
                5);
  EXPECT_EQ(Pairs(sink_.seen),
            (std::vector<std::string>{"MONITOR -> simple:OK",
                                      " -> simple:1700000000.123456 [0 127.0.0.1:50001] \"SET\" \"k\" \"v\"",
                                      "PING -> simple:PONG",
                                      " -> simple:1700000000.223456 [0 127.0.0.1:50000] \"PING\"",
                                      "GET k -> error:ERR Replica can't interact with the keyspace",
                                      "monitor -> none:reply_off",
                                      "ECHO 12 -> bulk:12"}));
  EXPECT_EQ(sink_.seen[1].kind, "push");
  EXPECT_EQ(sink_.seen[3].kind, "push");
  EXPECT_EQ(counters_.pushes, 2u);
  EXPECT_EQ(counters_.orphan_replies, 0u);
  EXPECT_EQ(session_.pending(), 0u);
}

TEST_F(SessionTest, MonitorLineSplitAcrossSegmentsIsStillAPush) {
  requests_.Feed("MONITOR\r\n", 1);
  replies_.Feed("+OK\r\n+", 2);
  replies_.Feed("1700000000.1 [0 127.0.0.1:50001] \"PING\"\r\n", 3);
  ASSERT_EQ(sink_.seen.size(), 2u);
  EXPECT_EQ(sink_.seen[1].kind, "push");
}

TEST_F(SessionTest, ResetEndsMonitoring) {
  requests_.Feed("MONITOR\r\nRESET\r\nPING\r\nMONITOR\r\n", 1);
  replies_.Feed(std::string("+OK\r\n") + kLineSet + "+RESET\r\n+PONG\r\n+OK\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen),
            (std::vector<std::string>{"MONITOR -> simple:OK",
                                      " -> simple:1700000000.123456 [0 127.0.0.1:50001] \"SET\" \"k\" \"v\"",
                                      "RESET -> simple:RESET", "PING -> simple:PONG",
                                      "MONITOR -> simple:OK"}));
}

TEST_F(SessionTest, RefusedMonitorDoesNotMonitor) {
  requests_.Feed("MONITOR\r\nMONITOR x\r\nPING\r\n", 1);
  // A status that starts with a digit is a reply while not monitoring.
  replies_.Feed("-NOPERM no\r\n-ERR wrong number of arguments\r\n+1 PONG\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"MONITOR -> error:NOPERM no",
                                                         "MONITOR x -> error:ERR wrong number of arguments",
                                                         "PING -> simple:1 PONG"}));
  EXPECT_EQ(counters_.pushes, 0u);
}

TEST_F(SessionTest, SecondMonitorPipelinedBeforeTheFirstOkIsIgnored) {
  // Redis 7.0.15's bytes for MONITOR MONITOR PING sent at once.
  requests_.Feed("MONITOR\r\nMONITOR\r\nPING\r\n", 1);
  replies_.Feed(std::string("+OK\r\n+PONG\r\n") + kLinePing, 2);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"MONITOR -> simple:OK", "MONITOR -> none:reply_off",
                                                         "PING -> simple:PONG",
                                                         " -> simple:1700000000.223456 [0 127.0.0.1:50000] \"PING\""}));
  EXPECT_EQ(session_.pending(), 0u);
}

TEST_F(SessionTest, MonitorRunWhileRepliesAreOffFeedsLinesOnceTheyAreOn) {
  requests_.Feed("CLIENT REPLY OFF\r\nMONITOR\r\nCLIENT REPLY ON\r\nPING\r\n", 1);
  replies_.Feed(std::string("+OK\r\n") + kLineSet + "+PONG\r\n" + kLinePing, 2);
  EXPECT_EQ(Pairs(sink_.seen),
            (std::vector<std::string>{"CLIENT REPLY OFF -> none:reply_off", "MONITOR -> none:reply_off",
                                      "CLIENT REPLY ON -> simple:OK",
                                      " -> simple:1700000000.123456 [0 127.0.0.1:50001] \"SET\" \"k\" \"v\"",
                                      "PING -> simple:PONG",
                                      " -> simple:1700000000.223456 [0 127.0.0.1:50000] \"PING\""}));
}

TEST_F(SessionTest, MonitorQueuedInMultiDoesNotMonitor) {
  // Redis 7.0.15: queued, then refused inside EXEC's array.
  requests_.Feed("MULTI\r\nMONITOR\r\nEXEC\r\nPING\r\n", 1);
  replies_.Feed("+OK\r\n+QUEUED\r\n*1\r\n-ERR MONITOR isn't allowed for DENY BLOCKING client\r\n+1 PONG\r\n", 2);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"MULTI -> simple:OK", "MONITOR -> simple:QUEUED",
                                                         "EXEC -> array:ERR MONITOR isn't allowed for DENY BLOCKING client",
                                                         "PING -> simple:1 PONG"}));
  EXPECT_EQ(counters_.pushes, 0u);
}

TEST(SessionMonitorValuesTest, FollowedWhenValuesAreNotKept) {
  SessionOptions options;
  options.message.keep_values = false;
  SessionCounters counters;
  NullSink sink;
  Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
  RespParser requests(RespRole::kRequest, RespLimits{}, session.request_handler());
  RespParser replies(RespRole::kReply, RespLimits{}, session.reply_handler());
  requests.Feed("MONITOR\r\nPING\r\n", 1);
  replies.Feed(std::string("+OK\r\n") + kLineSet + "+PONG\r\n" + kLinePing, 2);
  EXPECT_EQ(counters.replies, 2u);
  EXPECT_EQ(counters.pushes, 2u);
  EXPECT_EQ(counters.orphan_replies, 0u);
}

TEST_F(SessionTest, CommandsAfterAnsweredQuitAreClosedHoweverTheConnectionEnds) {
  requests_.Feed("PING\r\nQUIT\r\nPING\r\n", 1);
  replies_.Feed("+PONG\r\n+OK\r\n", 2);
  session_.Close(NoReply::kReset);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"PING -> simple:PONG", "QUIT -> simple:OK",
                                                         "PING -> none:closed"}));
}

TEST_F(SessionTest, UnansweredQuitKeepsTheConnectionsOwnEnd) {
  requests_.Feed("QUIT\r\nPING\r\n", 1);
  session_.Close(NoReply::kReset);
  EXPECT_EQ(Pairs(sink_.seen), (std::vector<std::string>{"QUIT -> none:reset", "PING -> none:reset"}));
}

TEST(SessionLimitsTest, TooManyPendingCommandsDesyncInsteadOfGrowing) {
  SessionOptions options;
  options.max_pending = 2;
  RecordingSink sink;
  SessionCounters counters;
  Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
  RespParser requests(RespRole::kRequest, RespLimits{}, session.request_handler());
  // Out of step, commands wait for a proof of step up to the same bound.
  for (int i = 0; i < 5; ++i) {
    requests.Feed("*1\r\n$4\r\nPING\r\n", i);
    EXPECT_LE(session.pending(), options.max_pending);
  }
  session.Close(NoReply::kEndOfCapture);
  EXPECT_EQ(session.pending(), 0u);
  ASSERT_EQ(sink.seen.size(), 5u);
  for (const Seen& s : sink.seen) EXPECT_EQ(s.reply, "none:desync");
  // In step at the third PING; out of step, waiting for a proof, at the fifth.
  EXPECT_EQ(counters.pending_overflows, 2u);
}

// Counted from the declared lengths as values start: the same whether values are kept or not.
TEST(SessionLimitsTest, ValuesAndAggregatesLongerThanTheRecordsKeepAreCounted) {
  for (const bool keep : {true, false}) {
    SCOPED_TRACE(keep);
    SessionOptions options;
    options.message.max_value_bytes = 4;
    options.message.max_elements = 2;
    options.message.keep_values = keep;
    RecordingSink sink;
    SessionCounters counters;
    Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
    RespParser requests(RespRole::kRequest, RespLimits{}, session.request_handler());
    RespParser replies(RespRole::kReply, RespLimits{}, session.reply_handler());
    // Values of 4 bytes and aggregates of 2 elements fit; a command's name is a value too.
    requests.Feed("*2\r\n$4\r\nECHO\r\n$4\r\nabcd\r\n*3\r\n$5\r\nLPUSH\r\n$1\r\nk\r\n$5\r\nabcde\r\n", 1);
    replies.Feed("$4\r\nabcd\r\n", 2);
    EXPECT_EQ(counters.values_cut, 2u);      // LPUSH, abcde
    EXPECT_EQ(counters.aggregates_cut, 1u);  // LPUSH's three elements
    requests.Feed("*1\r\n$4\r\nKEYS\r\n", 3);
    // A map of two pairs is four elements; an attribute is not kept at all.
    replies.Feed(":1\r\n%2\r\n+a\r\n:1\r\n+b\r\n+abcdefgh\r\n|3\r\n+a\r\n:1\r\n+b\r\n:2\r\n+c\r\n:3\r\n*2\r\n:1\r\n:2\r\n", 4);
    EXPECT_EQ(counters.values_cut, 3u);
    EXPECT_EQ(counters.aggregates_cut, 2u);
    EXPECT_EQ(counters.replies, 3u);
  }
}

TEST(SessionLimitsTest, RepliesNestedPastMaxDepthAreCountedApartFromInvalidOnes) {
  SessionOptions options;
  RecordingSink sink;
  SessionCounters counters;
  Session session(options, Endpoint{}, Endpoint{}, &sink, &counters);
  RespLimits limits;
  limits.max_depth = 2;
  RespParser requests(RespRole::kRequest, limits, session.request_handler());
  RespParser replies(RespRole::kReply, limits, session.reply_handler());
  requests.Feed("*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nEVAL\r\n$1\r\nx\r\n", 1);
  replies.Feed("*1\r\n*1\r\n:1\r\n", 2);  // two levels: decoded
  replies.Feed("*1\r\n*1\r\n*1\r\n:1\r\n", 3);  // three: not
  ASSERT_EQ(sink.seen.size(), 2u);
  EXPECT_EQ(sink.seen[0].reply, "array:");
  EXPECT_EQ(sink.seen[1].reply, "none:desync");
  EXPECT_EQ(counters.too_deep, 1u);
  EXPECT_EQ(counters.reply_errors, 0u);
  EXPECT_EQ(counters.desyncs, 1u);
}

}  // namespace
}  // namespace resptrace

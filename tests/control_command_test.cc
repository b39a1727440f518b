#include "resptrace/control_command.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace resptrace {
namespace {

// Feeds a request of `args` to a matcher, each argument in pieces of at most `piece_len`
// bytes, as the parser hands over a value split across segments.
ControlCommand Match(const std::vector<std::string>& args, size_t piece_len = 64,
                     int missing_in = -1) {
  ControlCommandMatcher m;
  m.Begin();
  m.Arguments(static_cast<int64_t>(args.size()));
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    const int64_t len = static_cast<int64_t>(a.size());
    if (static_cast<int>(i) == missing_in) {
      m.Piece({RespType::kBulkString, {}, a.size(), len, true, true});
      continue;
    }
    size_t at = 0;
    do {
      const size_t n = std::min(piece_len, a.size() - at);
      m.Piece({RespType::kBulkString, std::string_view(a).substr(at, n), 0, len, at == 0,
               at + n == a.size()});
      at += n;
    } while (at < a.size());
  }
  return m.command();
}

TEST(ControlCommandMatcherTest, RecognisesEachCommandInAnyCase) {
  EXPECT_EQ(Match({"client", "REPLY", "Off"}).reply, ReplyControl::kOff);
  EXPECT_EQ(Match({"CLIENT", "reply", "on"}).reply, ReplyControl::kOn);
  EXPECT_EQ(Match({"CLIENT", "REPLY", "SKIP"}).reply, ReplyControl::kSkip);
  EXPECT_EQ(Match({"Monitor"}).reply, ReplyControl::kMonitor);
  EXPECT_EQ(Match({"quit"}).reply, ReplyControl::kQuit);
  EXPECT_EQ(Match({"multi"}).tx, TxCommand::kMulti);
  EXPECT_EQ(Match({"EXEC"}).tx, TxCommand::kExec);
  EXPECT_EQ(Match({"Discard"}).tx, TxCommand::kDiscard);
  const ControlCommand reset = Match({"reset"});
  EXPECT_EQ(reset.reply, ReplyControl::kReset);
  EXPECT_EQ(reset.tx, TxCommand::kReset);
  EXPECT_EQ(reset.pubsub.kind, PubSub::kReset);
  const ControlCommand sub = Match({"SUBSCRIBE", "a", "b", "c"});
  EXPECT_EQ(sub.pubsub.kind, PubSub::kSubscribe);
  EXPECT_EQ(sub.pubsub.channels, 3u);
  EXPECT_EQ(Match({"punsubscribe"}).pubsub.kind, PubSub::kPunsubscribe);
  EXPECT_EQ(Match({"punsubscribe"}).pubsub.channels, 0u);
  EXPECT_EQ(Match({"SSUBSCRIBE", "x"}).pubsub.kind, PubSub::kSsubscribe);
  EXPECT_EQ(Match({"hello", "3"}).pubsub.kind, PubSub::kHello3);
  EXPECT_EQ(Match({"HELLO", "2", "AUTH", "u", "p"}).pubsub.kind, PubSub::kHello2);
}

TEST(ControlCommandMatcherTest, MatchesNamesSplitIntoPieces) {
  EXPECT_EQ(Match({"CLIENT", "REPLY", "OFF"}, 1).reply, ReplyControl::kOff);
  EXPECT_EQ(Match({"PSUBSCRIBE", "news.*"}, 3).pubsub.kind, PubSub::kPsubscribe);
  EXPECT_EQ(Match({"DISCARD"}, 2).tx, TxCommand::kDiscard);
}

TEST(ControlCommandMatcherTest, RulesOutOtherCommandsAndArgumentsTheServerRejects) {
  const auto none = [](const ControlCommand& c) {
    return c.reply == ReplyControl::kNone && c.tx == TxCommand::kNone && c.pubsub.kind == PubSub::kNone;
  };
  EXPECT_TRUE(none(Match({"GET", "k"})));
  EXPECT_TRUE(none(Match({"EXEC", "extra"})));
  EXPECT_TRUE(none(Match({"MONITOR", "x"})));
  EXPECT_TRUE(none(Match({"CLIENT", "REPLY"})));
  EXPECT_TRUE(none(Match({"CLIENT", "REPLY", "OFF", "x"})));
  EXPECT_TRUE(none(Match({"CLIENT", "REPLY", "MAYBE"})));
  EXPECT_TRUE(none(Match({"CLIENT", "LIST", "ON"})));
  EXPECT_TRUE(none(Match({"HELLO"})));  // changes nothing: it only describes the connection
  EXPECT_TRUE(none(Match({"HELLO", "4"})));
  EXPECT_TRUE(none(Match({"EXECX"})));
  EXPECT_TRUE(none(Match({"exed"})));
  EXPECT_TRUE(none(Match({"SUBSCRIBEX", "a"})));
  EXPECT_TRUE(none(Match({"ON"})));  // an argument word is no command
}

TEST(ControlCommandMatcherTest, BytesLostInAGapMatchNothing) {
  EXPECT_EQ(Match({"MULTI"}, 64, 0).tx, TxCommand::kNone);
  EXPECT_EQ(Match({"CLIENT", "REPLY", "OFF"}, 64, 2).reply, ReplyControl::kNone);
  EXPECT_EQ(Match({"HELLO", "3"}, 64, 1).pubsub.kind, PubSub::kNone);
  // The channel is not read: a SUBSCRIBE is still one whatever its channel's bytes were.
  EXPECT_EQ(Match({"SUBSCRIBE", "a"}, 64, 1).pubsub.kind, PubSub::kSubscribe);
}

}  // namespace
}  // namespace resptrace

// The command table: lookups by name and subcommand, and key arguments by the key specs.
#include "resptrace/command_table.h"

#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resptrace {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// A request written as on a command line: "XREAD COUNT 2 STREAMS a b 0 0".
struct Request {
  explicit Request(std::string_view line) {
    for (size_t start = 0; start <= line.size();) {
      size_t end = line.find(' ', start);
      if (end == std::string_view::npos) end = line.size();
      words.emplace_back(line.substr(start, end - start));
      start = end + 1;
    }
    for (size_t i = 1; i < words.size(); ++i) args.push_back(words[i]);
  }
  std::vector<std::string> words;
  std::vector<std::string_view> args;  // after the command name
};

CommandMatch Match(const Request& r) { return MatchCommand(r.words[0], r.args); }

// The key arguments of a request, as strings.
std::vector<std::string> Keys(std::string_view line, size_t elided = 0) {
  const Request r(line);
  const CommandMatch m = Match(r);
  if (m.info == nullptr) return {"(unknown)"};
  std::vector<uint32_t> idx;
  FindKeyArgs(*m.info, r.args, r.args.size() + elided, &idx);
  std::vector<std::string> keys;
  for (uint32_t i : idx) keys.emplace_back(r.args[i]);
  return keys;
}

TEST(CommandTableTest, KnowsCommandsWithTheirArityAndFlags) {
  const Request get("GET k");
  const CommandMatch m = Match(get);
  ASSERT_NE(m.info, nullptr);
  EXPECT_EQ(m.info->name, "GET");
  EXPECT_EQ(m.info->arity, 2);
  EXPECT_TRUE(m.info->flags & kCmdReadonly);
  EXPECT_TRUE(m.info->flags & kCmdFast);
  EXPECT_FALSE(m.info->flags & kCmdWrite);
  EXPECT_FALSE(m.subcommand);
  EXPECT_TRUE(Match(Request("BLPOP q 0")).info->flags & kCmdBlocking);
}

TEST(CommandTableTest, NamesAreCaseInsensitive) {
  for (const char* line : {"get k", "GeT k", "GET k"}) {
    const CommandMatch m = Match(Request(line));
    ASSERT_NE(m.info, nullptr) << line;
    EXPECT_EQ(m.info->name, "GET");
  }
  EXPECT_THAT(Keys("xread streams s 0"), ElementsAre("s"));
  const CommandMatch sub = Match(Request("config get maxmemory"));
  ASSERT_NE(sub.info, nullptr);
  EXPECT_EQ(sub.info->name, "CONFIG|GET");
}

TEST(CommandTableTest, UnknownCommands) {
  EXPECT_EQ(Match(Request("NOSUCHCOMMAND a b")).info, nullptr);
  EXPECT_EQ(Match(Request("")).info, nullptr);
  // Longer than any name in the table: still a clean miss.
  EXPECT_EQ(Match(Request(std::string(300, 'x') + " a")).info, nullptr);
}

TEST(CommandTableTest, Subcommands) {
  const CommandMatch get = Match(Request("CONFIG get maxmemory"));
  ASSERT_NE(get.info, nullptr);
  EXPECT_TRUE(get.subcommand);
  EXPECT_EQ(get.info->name, "CONFIG|GET");
  EXPECT_EQ(get.info->arity, -3);

  const CommandMatch reply = Match(Request("client REPLY off"));
  ASSERT_NE(reply.info, nullptr);
  EXPECT_EQ(reply.info->name, "CLIENT|REPLY");

  const CommandMatch xinfo = Match(Request("XINFO STREAM s FULL"));
  ASSERT_NE(xinfo.info, nullptr);
  EXPECT_EQ(xinfo.info->name, "XINFO|STREAM");
  EXPECT_THAT(Keys("XINFO STREAM s FULL"), ElementsAre("s"));
  EXPECT_THAT(Keys("CONFIG GET maxmemory"), IsEmpty());

  // An unknown subcommand of a known command: a subcommand, unknown.
  const CommandMatch bad = Match(Request("CONFIG NOSUCH x"));
  EXPECT_TRUE(bad.subcommand);
  EXPECT_EQ(bad.info, nullptr);
  // The command alone (the server answers with an arity error).
  const CommandMatch bare = Match(Request("CONFIG"));
  ASSERT_NE(bare.info, nullptr);
  EXPECT_EQ(bare.info->name, "CONFIG");
  EXPECT_FALSE(bare.subcommand);
}

TEST(CommandTableTest, SingleKeyAndRanges) {
  EXPECT_THAT(Keys("GET k"), ElementsAre("k"));
  EXPECT_THAT(Keys("SET k v EX 10"), ElementsAre("k"));
  EXPECT_THAT(Keys("MSET a 1 b 2 c 3"), ElementsAre("a", "b", "c"));
  EXPECT_THAT(Keys("DEL a b c"), ElementsAre("a", "b", "c"));
  EXPECT_THAT(Keys("LMOVE src dst LEFT RIGHT"), ElementsAre("src", "dst"));
  EXPECT_THAT(Keys("BLPOP a b 0"), ElementsAre("a", "b"));
  EXPECT_THAT(Keys("PING"), IsEmpty());
  // Too few arguments for the spec (the server answers with an arity error).
  EXPECT_THAT(Keys("GET"), IsEmpty());
}

TEST(CommandTableTest, KeyCounts) {
  EXPECT_THAT(Keys("EVAL return 2 k1 k2 a1"), ElementsAre("k1", "k2"));
  EXPECT_THAT(Keys("EVAL return 0 a1"), IsEmpty());
  EXPECT_THAT(Keys("ZUNIONSTORE dst 2 a b WEIGHTS 1 2"), ElementsAre("dst", "a", "b"));
  EXPECT_THAT(Keys("ZUNION 2 a b"), ElementsAre("a", "b"));
  EXPECT_THAT(Keys("LMPOP 2 a b LEFT"), ElementsAre("a", "b"));
}

TEST(CommandTableTest, HostileKeyCountsGiveNoKeys) {
  EXPECT_THAT(Keys("EVAL s -1 a b"), IsEmpty());
  EXPECT_THAT(Keys("EVAL s 3 a b"), IsEmpty());
  EXPECT_THAT(Keys("EVAL s 99999999999999999999999 a b"), IsEmpty());
  EXPECT_THAT(Keys("EVAL s 9223372036854775807 a"), IsEmpty());
  EXPECT_THAT(Keys("EVAL s two a b"), IsEmpty());
  EXPECT_THAT(Keys("EVAL s"), IsEmpty());
  EXPECT_THAT(Keys("EVAL s 2147483648 a"), IsEmpty());
  // The destination comes from its own spec; the bad count voids only the other.
  EXPECT_THAT(Keys("ZUNIONSTORE dst -5 a b"), ElementsAre("dst"));
  EXPECT_THAT(Keys("ZUNIONSTORE dst 1000000 a b"), ElementsAre("dst"));
}

TEST(CommandTableTest, KeywordSearch) {
  EXPECT_THAT(Keys("XREAD COUNT 2 STREAMS a b 0 0"), ElementsAre("a", "b"));
  EXPECT_THAT(Keys("XREAD BLOCK 0 streams s $"), ElementsAre("s"));
  EXPECT_THAT(Keys("XREADGROUP GROUP g c STREAMS a b > >"), ElementsAre("a", "b"));
  EXPECT_THAT(Keys("XREAD COUNT 2"), IsEmpty());
  EXPECT_THAT(Keys("GEORADIUS g 0 0 10 km STORE dst"), ElementsAre("g", "dst"));
}

TEST(CommandTableTest, Migrate) {
  EXPECT_THAT(Keys("MIGRATE h 6379 k 0 5000"), ElementsAre("k"));
  EXPECT_THAT(Keys("MIGRATE h 6379 k 0 5000 COPY REPLACE AUTH pw"), ElementsAre("k"));
  EXPECT_THAT(Keys("MIGRATE h 6379  0 5000 KEYS a b c"), ElementsAre("a", "b", "c"));
  EXPECT_THAT(Keys("MIGRATE h 6379  0 5000 REPLACE AUTH2 u pw KEYS a"), ElementsAre("a"));
  // A password spelled like the keyword is a password.
  EXPECT_THAT(Keys("MIGRATE h 6379 k 0 5000 AUTH keys"), ElementsAre("k"));
  EXPECT_THAT(Keys("MIGRATE h 6379 k 0 5000 AUTH2 keys keys"), ElementsAre("k"));
}

TEST(CommandTableTest, SortStore) {
  EXPECT_THAT(Keys("SORT l"), ElementsAre("l"));
  EXPECT_THAT(Keys("SORT l BY w_* GET o_* LIMIT 0 10 ALPHA STORE dst"), ElementsAre("l", "dst"));
  // Patterns and limits are skipped, so a pattern named "store" is no keyword.
  EXPECT_THAT(Keys("SORT l GET store LIMIT store 1"), ElementsAre("l"));
  EXPECT_THAT(Keys("SORT l STORE"), ElementsAre("l"));
  EXPECT_THAT(Keys("SORT l STORE a STORE b"), ElementsAre("l", "b"));
  EXPECT_THAT(Keys("SORT_RO l BY w_*"), ElementsAre("l"));
}

TEST(CommandTableTest, NotKeysAreLeftOut) {
  EXPECT_THAT(Keys("SPUBLISH channel msg"), IsEmpty());
}

TEST(CommandTableTest, KeysPastTheKeptArgumentsAreLeftOut) {
  // MSET of 3 pairs with only the first 3 arguments kept.
  const Request r("MSET a 1 b 2 c 3");
  std::vector<uint32_t> idx;
  FindKeyArgs(*Match(r).info, absl::MakeSpan(r.args).subspan(0, 3), r.args.size(), &idx);
  EXPECT_THAT(idx, ElementsAre(0, 2));
  // XREAD's keys are the first half after STREAMS of all the arguments, kept or not.
  EXPECT_THAT(Keys("XREAD STREAMS a b c d", /*elided=*/4), ElementsAre("a", "b", "c", "d"));
  // A key count far past what was kept reads no further than the kept arguments.
  EXPECT_THAT(Keys("EVAL s 1000000 a b", /*elided=*/2000000), ElementsAre("a", "b"));
}

TEST(CommandTableTest, AnyArgumentsGiveKeysAmongThem) {
  // The commands whose keys depend on their arguments, fed words that steer the key specs.
  const char* const kCommands[] = {"EVAL", "EVALSHA", "FCALL", "ZUNIONSTORE", "ZINTER", "LMPOP",
                                   "BLMPOP", "ZMPOP", "BZMPOP", "XREAD", "XREADGROUP", "MIGRATE",
                                   "SORT", "SORT_RO", "GEORADIUS", "GEORADIUSBYMEMBER", "MSET",
                                   "XINFO", "OBJECT", "MEMORY", "SINTERCARD"};
  const char* const kWords[] = {"-1", "0", "1", "2", "3", "99999999999999999999", "STREAMS",
                                "KEYS", "STORE", "AUTH", "AUTH2", "LIMIT", "GET", "BY", "x", ""};
  uint32_t seed = 12345;
  auto next = [&seed](uint32_t n) {
    seed = seed * 1103515245u + 12345u;
    return (seed >> 8) % n;
  };
  std::vector<uint32_t> idx;
  for (const char* cmd : kCommands) {
    for (int round = 0; round < 2000; ++round) {
      std::vector<std::string_view> args(next(14));
      for (std::string_view& a : args) a = kWords[next(std::size(kWords))];
      const CommandMatch m = MatchCommand(cmd, args);
      if (m.info == nullptr) continue;
      idx.clear();
      FindKeyArgs(*m.info, args, args.size() + next(3) * next(1u << 20), &idx);
      for (uint32_t i : idx) ASSERT_LT(i, args.size()) << cmd;
    }
  }
}

}  // namespace
}  // namespace resptrace

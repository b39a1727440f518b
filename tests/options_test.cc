// Command-line parsing: the limits' flags, their defaults and the values they refuse.
#include "resptrace/options.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resptrace {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<Options> Parse(std::vector<std::string> args) {
  args.insert(args.begin(), "resptrace");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return ParseOptions(static_cast<int>(argv.size()), argv.data());
}

TEST(OptionsLimitsTest, MaxDepth) {
  EXPECT_EQ(Parse({})->collector.resp.max_depth, 128u);
  EXPECT_EQ(Parse({"--max-depth", "20"})->collector.resp.max_depth, 20u);
  EXPECT_EQ(Parse({"--max-depth=65536"})->collector.resp.max_depth, 65536u);
  EXPECT_THAT(Parse({"--max-depth", "0"}).status().message(),
              HasSubstr("bad value '0' for --max-depth: at least 1"));
  EXPECT_THAT(Parse({"--max-depth", "65537"}).status().message(),
              HasSubstr("bad value '65537' for --max-depth"));
  EXPECT_THAT(UsageText(), HasSubstr("--max-depth N"));
}

TEST(OptionsLimitsTest, ValuesElementsAndPending) {
  const Options defaults = *Parse({});
  EXPECT_EQ(defaults.collector.session.message.max_value_bytes, 512u);
  EXPECT_EQ(defaults.collector.session.message.max_elements, 1000u);
  EXPECT_EQ(defaults.collector.session.max_pending, 10000u);
  const Options set = *Parse({"--max-value-bytes", "0", "--max-elements=20000", "--max-pending", "5"});
  EXPECT_EQ(set.collector.session.message.max_value_bytes, 0u);
  EXPECT_EQ(set.collector.session.message.max_elements, 20000u);
  EXPECT_EQ(set.collector.session.max_pending, 5u);
  EXPECT_THAT(Parse({"--max-pending", "0"}).status().message(),
              HasSubstr("bad value '0' for --max-pending: at least 1"));
}

TEST(OptionsLimitsTest, CommandsWaitingForAProofOfStep) {
  EXPECT_EQ(Parse({})->collector.session.max_unproven, 32u);
  EXPECT_EQ(Parse({"--max-unproven", "7"})->collector.session.max_unproven, 7u);
  EXPECT_THAT(Parse({"--max-unproven", "0"}).status().message(),
              HasSubstr("bad value '0' for --max-unproven: at least 1"));
  EXPECT_THAT(UsageText(), HasSubstr("--max-unproven N"));
}

TEST(OptionsLimitsTest, FlowsAndBytesHeld) {
  const Options defaults = *Parse({});
  EXPECT_EQ(defaults.collector.max_flows, 100000u);
  EXPECT_EQ(defaults.collector.max_flow_bytes, 4u << 20);
  EXPECT_EQ(defaults.collector.max_buffered_bytes, 256u << 20);
  const Options set =
      *Parse({"--max-flows", "10", "--max-flow-bytes=65536", "--max-buffered-bytes", "1048576"});
  EXPECT_EQ(set.collector.max_flows, 10u);
  EXPECT_EQ(set.collector.max_flow_bytes, 65536u);
  EXPECT_EQ(set.collector.max_buffered_bytes, 1048576u);
  for (const char* flag : {"--max-flows", "--max-flow-bytes", "--max-buffered-bytes"}) {
    EXPECT_THAT(Parse({flag, "0"}).status().message(),
                HasSubstr(std::string("bad value '0' for ") + flag + ": at least 1"));
    EXPECT_THAT(Parse({flag, "many"}).status().message(),
                HasSubstr(std::string("bad value 'many' for ") + flag + ": a whole number"));
    EXPECT_THAT(UsageText(), HasSubstr(std::string(flag) + " N"));
  }
}

}  // namespace
}  // namespace resptrace

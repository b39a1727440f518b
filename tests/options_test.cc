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

}  // namespace
}  // namespace resptrace

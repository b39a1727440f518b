// The summary: every limit that was hit is named, with the flag that sets it.
#include "resptrace/stats.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace resptrace {
namespace {

using ::testing::HasSubstr;

TEST(SummaryTest, LimitsHitAreAnomaliesNamedByTheirFlag) {
  Summary s;
  s.collector.session.too_deep = 2;
  s.collector.session.pending_overflows = 3;
  s.collector.session.transaction_overflows = 4;
  s.collector.flow_bytes_hits = 5;
  s.collector.total_bytes_hits = 6;
  s.collector.evictions = 7;
  s.collector.reassembly.buffer_overflows = 8;
  const std::string text = FormatSummary(s);
  EXPECT_THAT(text, HasSubstr(" 35 anomalies,"));
  EXPECT_THAT(text, HasSubstr("\n  connections past --max-flow-bytes: 5\n"));
  EXPECT_THAT(text, HasSubstr("\n  connections emptied at --max-buffered-bytes: 6\n"));
  EXPECT_THAT(text, HasSubstr("\n  connections evicted at --max-flows: 7\n"));
  EXPECT_THAT(text, HasSubstr("\n  holes given up at 1024 segments held out of order: 8\n"));
  EXPECT_THAT(text, HasSubstr("\n  replies nested past --max-depth: 2\n"));
  EXPECT_THAT(text, HasSubstr("\n  commands pending past --max-pending: 3\n"));
  EXPECT_THAT(text, HasSubstr("\n  transactions past --max-pending, not linked: 4\n"));
}

TEST(SummaryTest, ValuesAndAggregatesCutInRecordsAreCountedButAreNoAnomaly) {
  Summary s;
  s.collector.session.values_cut = 3;
  s.collector.session.aggregates_cut = 1;
  const std::string text = FormatSummary(s);
  EXPECT_THAT(text, HasSubstr(" 0 anomalies,"));
  EXPECT_THAT(text, HasSubstr(
                        "\n  cut in records: 3 values past --max-value-bytes, 1 aggregates past "
                        "--max-elements\n"));
}

}  // namespace
}  // namespace resptrace

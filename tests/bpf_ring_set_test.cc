// The per-CPU ring buffers' reader: its parsing of the kernel's CPU lists. Reading the
// rings themselves is tested with the program, in bpf_program_test.cc.
#include "resptrace/bpf_ring_set.h"

#include <vector>

#include "gtest/gtest.h"

namespace resptrace {
namespace {

TEST(BpfRingSetTest, ParsesCpuLists) {
  EXPECT_EQ(*BpfRingSet::ParseCpuList("0\n"), std::vector<int>({0}));
  EXPECT_EQ(*BpfRingSet::ParseCpuList("0-1"), std::vector<int>({0, 1}));
  EXPECT_EQ(*BpfRingSet::ParseCpuList("0-2,5,7-8"), std::vector<int>({0, 1, 2, 5, 7, 8}));
}

TEST(BpfRingSetTest, RejectsMalformedCpuLists) {
  for (const char* bad : {"", "a", "3-1", "1-", "-1", "0,,1", "99999"}) {
    EXPECT_FALSE(BpfRingSet::ParseCpuList(bad).ok()) << bad;
  }
}

TEST(BpfRingSetTest, ReadsThisHostsOnlineCpus) {
  absl::StatusOr<std::vector<int>> cpus = BpfRingSet::OnlineCpus();
  ASSERT_TRUE(cpus.ok()) << cpus.status();
  EXPECT_FALSE(cpus->empty());
}

}  // namespace
}  // namespace resptrace

// Attaching and detaching TC programs, in a network namespace of the test's own so that
// nothing outlives it.
#include "resptrace/tc_attachment.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace resptrace {
namespace {

// The smallest TC program: "return TC_ACT_UNSPEC", under the given name.
int LoadNoopProgram(const char* name) {
  const bpf_insn insns[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, TC_ACT_UNSPEC},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  return bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, name, "GPL", insns, 2, nullptr);
}

bool RequireBpf() {
  const char* v = std::getenv("RESPTRACE_REQUIRE_BPF");
  return v != nullptr && std::string(v) == "1";
}

class TcAttachmentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A fresh network namespace: its lo and any qdisc added to it vanish with the process.
    if (unshare(CLONE_NEWNET) != 0) {
      const std::string why = std::string("cannot make a network namespace: ") + std::strerror(errno);
      if (RequireBpf()) FAIL() << why;
      GTEST_SKIP() << why << " (needs root; set RESPTRACE_REQUIRE_BPF=1 to make this a failure)";
    }
    prog_ = LoadNoopProgram("resptrace_test");
    if (prog_ < 0) {
      const std::string why = std::string("cannot load a BPF program: ") + std::strerror(-prog_);
      if (RequireBpf()) FAIL() << why;
      GTEST_SKIP() << why << " (needs CAP_BPF; set RESPTRACE_REQUIRE_BPF=1 to make this a failure)";
    }
    lo_ = static_cast<int>(if_nametoindex("lo"));
    ASSERT_GT(lo_, 0);
  }
  void TearDown() override {
    if (prog_ >= 0) close(prog_);
  }

  // Program ids attached through tcx at lo's ingress.
  std::vector<__u32> TcxIngress() {
    __u32 ids[16];
    __u32 count = 16;
    __u32 flags = 0;
    if (bpf_prog_query(lo_, static_cast<bpf_attach_type>(46), 0, &flags, ids, &count) != 0) return {};
    return std::vector<__u32>(ids, ids + count);
  }
  // Whether a clsact filter sits at (handle, priority) at lo's ingress.
  bool FilterAt(__u32 handle, __u32 priority) {
    bpf_tc_hook hook{};
    hook.sz = sizeof hook;
    hook.ifindex = lo_;
    hook.attach_point = BPF_TC_INGRESS;
    bpf_tc_opts opts{};
    opts.sz = sizeof opts;
    opts.handle = handle;
    opts.priority = priority;
    return bpf_tc_query(&hook, &opts) == 0;
  }
  __u32 ProgId(int fd) {
    bpf_prog_info info{};
    __u32 len = sizeof info;
    bpf_obj_get_info_by_fd(fd, &info, &len);
    return info.id;
  }

  int prog_ = -1;
  int lo_ = 0;
};

constexpr __u32 kOurs = 0x5254;  // resptrace's handle and priority (tc_attachment.cc)

TEST_F(TcAttachmentTest, TcxLinkGoesAwayWithTheAttachment) {
  {
    auto a = TcAttachment::Attach(prog_, lo_, TcDirection::kIngress);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ((*a)->mode(), TcAttachment::Mode::kTcx);
    EXPECT_EQ(TcxIngress(), std::vector<__u32>{ProgId(prog_)});
  }
  EXPECT_TRUE(TcxIngress().empty());
}

TEST_F(TcAttachmentTest, ClsactFilterIsRemovedOnExit) {
  {
    auto a = TcAttachment::Attach(prog_, lo_, TcDirection::kIngress, TcAttachment::Mode::kClsact);
    ASSERT_TRUE(a.ok()) << a.status();
    EXPECT_EQ((*a)->mode(), TcAttachment::Mode::kClsact);
    EXPECT_TRUE(FilterAt(kOurs, kOurs));
  }
  EXPECT_FALSE(FilterAt(kOurs, kOurs));
}

TEST_F(TcAttachmentTest, SweepRemovesWhatAKilledRunLeftAndNothingElse) {
  // Somebody else's filter on the same hook.
  const int other = LoadNoopProgram("othertool");
  ASSERT_GE(other, 0);
  bpf_tc_hook hook{};
  hook.sz = sizeof hook;
  hook.ifindex = lo_;
  hook.attach_point = BPF_TC_INGRESS;
  bpf_tc_hook_create(&hook);
  bpf_tc_opts theirs{};
  theirs.sz = sizeof theirs;
  theirs.handle = 1;
  theirs.priority = 1;
  theirs.prog_fd = other;
  ASSERT_EQ(bpf_tc_attach(&hook, &theirs), 0);

  auto a = TcAttachment::Attach(prog_, lo_, TcDirection::kIngress, TcAttachment::Mode::kClsact);
  ASSERT_TRUE(a.ok()) << a.status();
  (*a)->Abandon();  // as if the process had been killed
  a->reset();
  ASSERT_TRUE(FilterAt(kOurs, kOurs));

  auto removed = SweepStaleClsactFilters(lo_);
  ASSERT_TRUE(removed.ok()) << removed.status();
  EXPECT_EQ(*removed, 1);
  EXPECT_FALSE(FilterAt(kOurs, kOurs));
  EXPECT_TRUE(FilterAt(1, 1)) << "another tool's filter must stay";
  auto again = SweepStaleClsactFilters(lo_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  close(other);
}

}  // namespace
}  // namespace resptrace

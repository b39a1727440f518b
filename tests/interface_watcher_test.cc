// Interfaces up now and coming up later, in a network namespace of the test's own.
#include "resptrace/interface_watcher.h"

#include <poll.h>
#include <sched.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>

#include "gtest/gtest.h"

namespace resptrace {
namespace {

class InterfaceWatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (unshare(CLONE_NEWNET) != 0) {
      const std::string why = std::string("cannot make a network namespace: ") + std::strerror(errno);
      const char* req = std::getenv("RESPTRACE_REQUIRE_BPF");
      if (req != nullptr && std::string(req) == "1") FAIL() << why;
      GTEST_SKIP() << why << " (needs root)";
    }
  }
};

TEST_F(InterfaceWatcherTest, ListsUpInterfacesAndFollowsNewOnes) {
  auto up = UpInterfaces();
  ASSERT_TRUE(up.ok()) << up.status();
  EXPECT_TRUE(up->empty()) << "a new namespace's lo starts down";

  auto watcher = InterfaceWatcher::Open();
  ASSERT_TRUE(watcher.ok()) << watcher.status();
  ASSERT_EQ(std::system("ip link add rtw0 type veth peer name rtw1 && ip link set rtw0 up"), 0);

  // Wait for the notification (bounded), not a fixed time.
  std::vector<NetInterface> seen;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < deadline &&
         std::none_of(seen.begin(), seen.end(), [](const auto& i) { return i.name == "rtw0"; })) {
    pollfd p{watcher->fd(), POLLIN, 0};
    poll(&p, 1, 100);
    auto got = watcher->ReadUp();
    ASSERT_TRUE(got.ok()) << got.status();
    seen.insert(seen.end(), got->begin(), got->end());
  }
  EXPECT_TRUE(std::any_of(seen.begin(), seen.end(), [](const auto& i) { return i.name == "rtw0"; }));
  EXPECT_TRUE(std::none_of(seen.begin(), seen.end(), [](const auto& i) { return i.name == "rtw1"; }))
      << "rtw1 is down";
  up = UpInterfaces();
  ASSERT_TRUE(up.ok());
  ASSERT_EQ(up->size(), 1u);
  EXPECT_EQ((*up)[0].name, "rtw0");
}

}  // namespace
}  // namespace resptrace

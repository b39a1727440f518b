// Replays every input under tests/data/fuzz-regressions/<target>/ through the harness of
// that fuzz target (fuzz/fuzz_harness.h): each once broke a promise or crashed.
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "fuzz_harness.h"
#include "gtest/gtest.h"

namespace resptrace {
namespace {

namespace fs = std::filesystem;

// Runs each file of the target's directory; returns how many there were.
int ReplayAll(std::string_view target, absl::Status (*harness)(std::string_view)) {
  const fs::path dir = fs::path(RESPTRACE_TEST_DATA) / "fuzz-regressions" / target;
  int replayed = 0;
  if (!fs::exists(dir)) return replayed;  // git keeps no empty directory
  for (const fs::directory_entry& e : fs::directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    const absl::Status s = harness(bytes.str());
    EXPECT_TRUE(s.ok()) << e.path().filename() << ": " << s;
    ++replayed;
  }
  return replayed;
}

TEST(FuzzRegressions, RespParser) { EXPECT_GT(ReplayAll("resp_parser", FuzzRespParser), 0); }

TEST(FuzzRegressions, Reassembler) { EXPECT_GT(ReplayAll("reassembler", FuzzReassembler), 0); }

TEST(FuzzRegressions, CaptureReader) {
  EXPECT_GT(ReplayAll("capture_reader", FuzzCaptureReader), 0);
}

}  // namespace
}  // namespace resptrace

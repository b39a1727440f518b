// Live-capture test helpers shared by live_capture_test and bpf_live_test: a background
// process whose output is read as it comes (with deadlines, never with sleeps), resptrace run
// live as such a process, and small readers of its output.
#ifndef RESPTRACE_TESTS_LIVE_RESPTRACE_H_
#define RESPTRACE_TESTS_LIVE_RESPTRACE_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace resptrace::live {

using Clock = std::chrono::steady_clock;

// True when CI wants eBPF tests to fail, not skip, where eBPF cannot load.
inline bool RequireBpf() {
  const char* v = std::getenv("RESPTRACE_REQUIRE_BPF");
  return v != nullptr && std::string(v) == "1";
}

inline std::vector<nlohmann::json> JsonLines(const std::string& text) {
  std::vector<nlohmann::json> out;
  for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

inline size_t CountLines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// A background child whose output is read as it comes, with deadlines. `ip netns exec` execs
// the command, so pid() is the command's own. Killed on destruction.
class BackgroundProcess {
 public:
  explicit BackgroundProcess(const std::vector<std::string>& args) {
    int out[2], err[2];
    if (pipe2(out, O_CLOEXEC) != 0 || pipe2(err, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    std::vector<std::string> argv_store = args;
    std::vector<char*> argv;
    for (std::string& a : argv_store) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      const int null = open("/dev/null", O_RDONLY);
      dup2(null, STDIN_FILENO);
      dup2(out[1], STDOUT_FILENO);
      dup2(err[1], STDERR_FILENO);
      execvp(argv[0], argv.data());
      _exit(127);
    }
    close(out[1]);
    close(err[1]);
    fds_[0] = out[0];
    fds_[1] = err[0];
  }
  ~BackgroundProcess() {
    Kill();
    for (int fd : fds_) {
      if (fd >= 0) close(fd);
    }
  }
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  const std::string& out() const { return out_; }
  const std::string& err() const { return err_; }

  void Kill() {
    if (pid_ <= 0) return;
    kill(pid_, SIGKILL);
    while (waitpid(pid_, nullptr, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
  }

  // Reads output until `done` holds; throws if the child's output ends first or after `timeout`.
  void WaitUntil(const std::function<bool()>& done, const std::string& what,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    const Clock::time_point deadline = Clock::now() + timeout;
    while (!done()) {
      if (fds_[0] < 0 && fds_[1] < 0) throw std::runtime_error(Describe(absl::StrCat(what, " never came; it exited")));
      if (!ReadSome(deadline)) {
        throw std::runtime_error(Describe(absl::StrCat(what, " did not come within ", timeout.count(), " ms")));
      }
    }
  }

  void Signal(int sig) { kill(pid_, sig); }

  // Waits for the child to exit by itself; returns its exit status (128 + signal if killed).
  int WaitExit(std::chrono::milliseconds timeout = std::chrono::milliseconds(10000)) {
    WaitUntil([this] { return fds_[0] < 0 && fds_[1] < 0; }, "the end of the output", timeout);
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  std::string Describe(const std::string& what) const {
    return absl::StrCat(what, "; stdout: ", out_, "; stderr: ", err_);
  }

  // One poll and what it made readable; false on timeout.
  bool ReadSome(Clock::time_point deadline) {
    pollfd p[2] = {{fds_[0], POLLIN, 0}, {fds_[1], POLLIN, 0}};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    const int rc = poll(p, 2, left < 0 ? 0 : static_cast<int>(left));
    if (rc < 0 && errno == EINTR) return true;
    if (rc <= 0) return false;
    std::string* sinks[2] = {&out_, &err_};
    for (int i = 0; i < 2; ++i) {
      if (fds_[i] < 0 || p[i].revents == 0) continue;
      char buf[65536];
      const ssize_t n = read(fds_[i], buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds_[i]);
        fds_[i] = -1;
      }
    }
    return true;
  }

  pid_t pid_ = -1;
  int fds_[2] = {-1, -1};
  std::string out_;
  std::string err_;
};

// resptrace capturing live in the background, run after `prefix` (e.g. "ip netns exec NS")
// when given. The constructor returns once it says it is capturing (or that it fell back to
// libpcap: see FellBack()); should it throw, the constructed base still kills the process.
class LiveResptrace : public BackgroundProcess {
 public:
  explicit LiveResptrace(const std::vector<std::string>& args,
                         const std::vector<std::string>& prefix = {})
      : BackgroundProcess(Argv(args, prefix)) {
    WaitUntil(
        [this] {
          return err().find("(libpcap)\n") != std::string::npos ||
                 err().find("(eBPF)\n") != std::string::npos;
        },
        "the line saying it is capturing");
  }
  bool FellBack() const { return err().find("; using libpcap\n") != std::string::npos; }
  void WaitForRecords(size_t n) {
    WaitUntil([&] { return CountLines(out()) >= n; }, absl::StrCat(n, " records"));
  }

 private:
  static std::vector<std::string> Argv(const std::vector<std::string>& args,
                                       const std::vector<std::string>& prefix) {
    std::vector<std::string> argv = prefix;
    argv.push_back(RESPTRACE_BINARY);
    argv.insert(argv.end(), args.begin(), args.end());
    return argv;
  }
};

// Skips, or fails under RESPTRACE_REQUIRE_BPF=1, when resptrace could not load eBPF.
#define SKIP_OR_FAIL_UNLESS_BPF(trace)                                                      \
  if ((trace).FellBack()) {                                                                 \
    if (RequireBpf()) FAIL() << "the eBPF backend did not load: " << (trace).err();         \
    GTEST_SKIP() << "the eBPF backend cannot load here (" << (trace).err()                 \
                 << "); set RESPTRACE_REQUIRE_BPF=1 to make this a failure";                 \
  }

}  // namespace resptrace::live

#endif  // RESPTRACE_TESTS_LIVE_RESPTRACE_H_

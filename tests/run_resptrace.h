// Runs a program (by default the resptrace binary) as a child process and captures what it
// writes, for tests that check the whole tool from the outside. Also splits JSON-lines output.
#ifndef RESPTRACE_TESTS_RUN_RESPTRACE_H_
#define RESPTRACE_TESTS_RUN_RESPTRACE_H_

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace resptrace_test {

struct RunResult {
  int exit_code = -1;   // the exit status; -1 when the child was killed by a signal
  int term_signal = 0;  // the signal that killed it, 0 when it exited
  std::string out;      // everything it wrote to stdout
  std::string err;      // everything it wrote to stderr
  std::string spawn_error;  // why it could not be started; empty when it ran
  long max_rss_kb = 0;      // its peak resident memory
};

// Runs `program` with `args` (argv[1..]) and the environment of this process plus `env`
// ("NAME=value" entries, set in the child only). Both output pipes are drained together
// so that a child filling one of them can never block.
inline RunResult RunProgram(const std::string& program, const std::vector<std::string>& args,
                            const std::vector<std::string>& env = {}) {
  RunResult r;
  int out_pipe[2], err_pipe[2];
  if (pipe2(out_pipe, O_CLOEXEC) != 0 || pipe2(err_pipe, O_CLOEXEC) != 0) {
    r.spawn_error = "pipe2 failed";
    return r;
  }
  std::vector<std::string> argv_store;
  argv_store.push_back(program);
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);

  const pid_t pid = fork();
  if (pid < 0) {
    r.spawn_error = "fork failed";
    return r;
  }
  if (pid == 0) {
    dup2(out_pipe[1], STDOUT_FILENO);
    dup2(err_pipe[1], STDERR_FILENO);
    for (const std::string& e : env) {
      const size_t eq = e.find('=');
      if (eq != std::string::npos) setenv(e.substr(0, eq).c_str(), e.c_str() + eq + 1, 1);
    }
    execv(program.c_str(), argv.data());
    _exit(127);
  }
  close(out_pipe[1]);
  close(err_pipe[1]);

  pollfd fds[2] = {{out_pipe[0], POLLIN, 0}, {err_pipe[0], POLLIN, 0}};
  std::string* sinks[2] = {&r.out, &r.err};
  int open_fds = 2;
  char buf[65536];
  while (open_fds > 0) {
    if (poll(fds, 2, -1) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (int i = 0; i < 2; ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      const ssize_t n = read(fds[i].fd, buf, sizeof buf);
      if (n > 0) {
        sinks[i]->append(buf, static_cast<size_t>(n));
      } else if (n == 0 || errno != EINTR) {
        close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  r.max_rss_kb = usage.ru_maxrss;
  if (WIFEXITED(status)) {
    r.exit_code = WEXITSTATUS(status);
    if (r.exit_code == 127 && r.out.empty() && r.err.empty()) r.spawn_error = "exec failed: " + program;
  } else if (WIFSIGNALED(status)) {
    r.term_signal = WTERMSIG(status);
  }
  return r;
}

#ifdef RESPTRACE_BINARY
// Runs the resptrace binary under test.
inline RunResult RunResptrace(const std::vector<std::string>& args,
                              const std::vector<std::string>& env = {}) {
  return RunProgram(RESPTRACE_BINARY, args, env);
}
#endif

// The lines of `text`, without their '\n'; a last line without '\n' counts too.
inline std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    if (nl == std::string_view::npos) {
      lines.push_back(text);
      break;
    }
    lines.push_back(text.substr(0, nl));
    text.remove_prefix(nl + 1);
  }
  return lines;
}

// Parses JSON-lines output. Returns false and says which line is bad when one does not
// parse as a JSON object.
inline bool ParseJsonLines(std::string_view text, std::vector<nlohmann::json>* records,
                           std::string* error) {
  records->clear();
  size_t line_no = 0;
  for (std::string_view line : SplitLines(text)) {
    ++line_no;
    nlohmann::json j = nlohmann::json::parse(line.begin(), line.end(), nullptr,
                                             /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      *error = "line " + std::to_string(line_no) + " is not a JSON object: " +
               std::string(line.substr(0, 200));
      return false;
    }
    records->push_back(std::move(j));
  }
  return true;
}

}  // namespace resptrace_test

#endif  // RESPTRACE_TESTS_RUN_RESPTRACE_H_

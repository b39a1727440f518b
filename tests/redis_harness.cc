#include "redis_harness.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <stdexcept>
#include <utility>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

extern char** environ;

namespace resptrace::live {
namespace {

using Clock = std::chrono::steady_clock;

[[noreturn]] void Fail(std::string what) { throw std::runtime_error(std::move(what)); }

[[noreturn]] void FailErrno(const std::string& what) {
  Fail(absl::StrCat(what, ": ", std::strerror(errno)));
}

int RemainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// The pipe ends a child gets; -1 means /dev/null.
struct ChildIo {
  int out = -1;
  int err = -1;
};

// Starts argv with stdin from /dev/null and stdout/stderr to the given fds (or /dev/null).
pid_t Spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
            ChildIo io) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  if (io.out >= 0) {
    posix_spawn_file_actions_adddup2(&actions, io.out, 1);
  } else {
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  }
  if (io.err >= 0) {
    posix_spawn_file_actions_adddup2(&actions, io.err, 2);
  } else {
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  }
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<char*> env;
  for (char** e = environ; *e != nullptr; ++e) env.push_back(*e);
  for (const std::string& e : extra_env) env.push_back(const_cast<char*>(e.c_str()));
  env.push_back(nullptr);
  pid_t pid;
  const int rc = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), env.data());
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) Fail(absl::StrCat("cannot start ", argv[0], ": ", std::strerror(rc)));
  return pid;
}

int OpenPidfd(pid_t pid) {
  // glibc 2.36 declares pidfd_open without C linkage for C++; the system call has none of that.
  const int fd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (fd < 0) FailErrno(absl::StrCat("pidfd_open for pid ", pid));
  return fd;
}

// Waits until the process behind pidfd exits or the deadline passes; true when it exited.
bool WaitExit(int pidfd, Clock::time_point deadline) {
  pollfd p{pidfd, POLLIN, 0};
  for (;;) {
    const int rc = poll(&p, 1, RemainingMs(deadline));
    if (rc > 0) return true;
    if (rc == 0) return false;
    if (errno != EINTR) FailErrno("poll on a pidfd");
  }
}

int Reap(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) FailErrno(absl::StrCat("waitpid ", pid));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Appends what is readable on fd to out; false at EOF.
bool Drain(int fd, std::string& out) {
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n == 0) return false;
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return true;
    FailErrno("read from a child's pipe");
  }
}

// A pipe whose read end does not block; the child's write end must block, or its output would
// be lost whenever the pipe is full.
std::pair<int, int> ChildOutputPipe() {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) FailErrno("pipe2");
  if (fcntl(fds[0], F_SETFL, O_NONBLOCK) != 0) FailErrno("fcntl O_NONBLOCK");
  return {fds[0], fds[1]};
}

uint16_t FreeLoopbackPort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) FailErrno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    FailErrno("picking a free loopback port");
  }
  close(fd);
  return ntohs(addr.sin_port);
}

// Connects to 127.0.0.1:port; -1 when refused.
int ConnectLoopback(uint16_t port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) FailErrno("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    const int e = errno;
    close(fd);
    if (e == ECONNREFUSED) return -1;
    errno = e;
    FailErrno(absl::StrCat("connect to 127.0.0.1:", port));
  }
  return fd;
}

std::string ReadFileText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// The decimal number right before `label` in text ("12 packets captured").
std::optional<uint64_t> NumberBefore(const std::string& text, std::string_view label) {
  const size_t end = text.find(label);
  if (end == std::string::npos) return std::nullopt;
  size_t begin = end;
  while (begin > 0 && text[begin - 1] >= '0' && text[begin - 1] <= '9') --begin;
  if (begin == end) return std::nullopt;
  return std::stoull(text.substr(begin, end - begin));
}

uint16_t Be16(const unsigned char* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
uint32_t Be32(const unsigned char* p) {
  return uint32_t{p[0]} << 24 | uint32_t{p[1]} << 16 | uint32_t{p[2]} << 8 | p[3];
}

}  // namespace

TempDir::TempDir() {
  std::string templ = (std::filesystem::temp_directory_path() / "resptrace-live-XXXXXX").string();
  if (mkdtemp(templ.data()) == nullptr) FailErrno("mkdtemp");
  path_ = templ;
}

TempDir::~TempDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env, milliseconds timeout) {
  auto [out_r, out_w] = ChildOutputPipe();
  auto [err_r, err_w] = ChildOutputPipe();
  const pid_t pid = Spawn(argv, extra_env, {out_w, err_w});
  close(out_w);
  close(err_w);
  ProcessResult result;
  const Clock::time_point deadline = Clock::now() + timeout;
  bool out_open = true;
  bool err_open = true;
  while (out_open || err_open) {
    pollfd p[2] = {{out_open ? out_r : -1, POLLIN, 0}, {err_open ? err_r : -1, POLLIN, 0}};
    const int rc = poll(p, 2, RemainingMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) FailErrno("poll on a child's pipes");
    if (rc == 0) {
      kill(pid, SIGKILL);
      Reap(pid);
      close(out_r);
      close(err_r);
      Fail(absl::StrCat(argv[0], " did not finish within ", timeout.count(),
                        " ms; stderr so far: ", result.err));
    }
    if (out_open && p[0].revents != 0) out_open = Drain(out_r, result.out);
    if (err_open && p[1].revents != 0) err_open = Drain(err_r, result.err);
  }
  close(out_r);
  close(err_r);
  result.exit_status = Reap(pid);
  return result;
}

RedisServer::RedisServer() {
  // The port is free when picked but not reserved: another process may take it first, so a
  // server that exits at start is retried on another port.
  std::string log_file = dir_.path() + "/redis.log";
  for (int attempt = 0; attempt < 3; ++attempt) {
    port_ = FreeLoopbackPort();
    pid_ = Spawn(
        {"redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", dir_.path(), "--logfile", log_file, "--daemonize", "no"},
        {}, {});
    pidfd_ = OpenPidfd(pid_);
    const Clock::time_point deadline = Clock::now() + milliseconds(5000);
    for (;;) {
      const int fd = ConnectLoopback(port_);
      if (fd >= 0) {
        static constexpr std::string_view kPing = "PING\r\n";
        std::string reply;
        if (send(fd, kPing.data(), kPing.size(), MSG_NOSIGNAL) ==
            static_cast<ssize_t>(kPing.size())) {
          pollfd p{fd, POLLIN, 0};
          while (reply.size() < 7 && poll(&p, 1, RemainingMs(deadline)) > 0) {
            char buf[64];
            const ssize_t n = read(fd, buf, sizeof buf);
            if (n <= 0) break;
            reply.append(buf, static_cast<size_t>(n));
          }
        }
        close(fd);
        // A loading server answers -LOADING; only PONG means ready.
        if (reply == "+PONG\r\n") return;
      }
      // Waiting on the pidfd paces the retries and notices a server that exited.
      if (WaitExit(pidfd_, std::min(deadline, Clock::now() + milliseconds(5)))) break;
      if (Clock::now() >= deadline) {
        kill(pid_, SIGKILL);
        Reap(pid_);
        close(pidfd_);
        Fail(absl::StrCat("redis-server on port ", port_,
                          " did not answer PING within 5 s; log: ", ReadFileText(log_file)));
      }
    }
    const int status = Reap(pid_);
    close(pidfd_);
    pid_ = -1;
    pidfd_ = -1;
    const std::string log = ReadFileText(log_file);
    if (log.find("Address already in use") == std::string::npos) {
      Fail(absl::StrCat("redis-server exited with status ", status, " at start; log: ", log));
    }
  }
  Fail("redis-server found its port taken three times in a row");
}

RedisServer::~RedisServer() {
  if (pid_ < 0) return;
  kill(pid_, SIGTERM);
  if (!WaitExit(pidfd_, Clock::now() + milliseconds(5000))) kill(pid_, SIGKILL);
  Reap(pid_);
  close(pidfd_);
}

std::string RedisServer::endpoint() const { return absl::StrCat("127.0.0.1:", port_); }

std::vector<TcpPacket> ReadPcapFile(const std::string& path) {
  const std::string data = ReadFileText(path);
  const auto* p = reinterpret_cast<const unsigned char*>(data.data());
  if (data.size() < 24) Fail(absl::StrCat(path, ": no pcap header yet (", data.size(), " bytes)"));
  uint32_t magic;
  std::memcpy(&magic, p, 4);
  // tcpdump writes in host byte order; microsecond or nanosecond timestamps.
  if (magic != 0xa1b2c3d4 && magic != 0xa1b23c4d) {
    Fail(absl::StrCat(path, ": not a host-order pcap file"));
  }
  const bool nanos = magic == 0xa1b23c4d;
  uint32_t linktype;
  std::memcpy(&linktype, p + 20, 4);
  if (linktype != 1) Fail(absl::StrCat(path, ": link type ", linktype, ", expected Ethernet (1)"));
  std::vector<TcpPacket> packets;
  size_t pos = 24;
  while (pos + 16 <= data.size()) {
    uint32_t sec, frac, caplen;
    std::memcpy(&sec, p + pos, 4);
    std::memcpy(&frac, p + pos + 4, 4);
    std::memcpy(&caplen, p + pos + 8, 4);
    if (pos + 16 + caplen > data.size()) break;  // still being written
    const unsigned char* f = p + pos + 16;
    pos += 16 + caplen;
    const auto bad = [&](const char* why) {
      Fail(absl::StrCat(path, ": packet ", packets.size() + 1, ": ", why));
    };
    if (caplen < 14 + 20 || Be16(f + 12) != 0x0800) bad("not IPv4 over Ethernet");
    const unsigned char* ip = f + 14;
    const size_t ihl = size_t{ip[0] & 0x0Fu} * 4;
    const size_t ip_len = Be16(ip + 2);
    if (ip[9] != IPPROTO_TCP || ip_len > caplen - 14 || ihl + 20 > ip_len)
      bad("not a whole TCP packet");
    const unsigned char* tcp = ip + ihl;
    const size_t tcp_len = size_t{static_cast<unsigned>(tcp[12] >> 4)} * 4;
    if (ihl + tcp_len > ip_len) bad("TCP header longer than the packet");
    TcpPacket t;
    t.ts_us = int64_t{sec} * 1000000 + (nanos ? frac / 1000 : frac);
    t.src_port = Be16(tcp);
    t.dst_port = Be16(tcp + 2);
    t.seq = Be32(tcp + 4);
    t.flags = tcp[13];
    t.payload.assign(reinterpret_cast<const char*>(tcp + tcp_len), ip_len - ihl - tcp_len);
    packets.push_back(std::move(t));
  }
  return packets;
}

CapturedStream::CapturedStream(const std::vector<TcpPacket>& packets, uint16_t src_port,
                               uint16_t dst_port) {
  std::optional<uint32_t> isn;
  for (const TcpPacket& t : packets) {
    if (t.src_port != src_port || t.dst_port != dst_port) continue;
    if (t.flags & kSyn) {
      isn = t.seq;
      continue;
    }
    if (!isn)
      Fail(absl::StrCat("no SYN from port ", src_port, " to ", dst_port, " in the capture"));
    const uint64_t offset = uint32_t(t.seq - *isn - 1);
    if (!t.payload.empty()) {
      // Loopback neither loses nor reorders; anything else would make these tests meaningless.
      if (offset != bytes_.size()) {
        Fail(absl::StrCat("stream ", src_port, "->", dst_port, ": segment at offset ", offset,
                          " after ", bytes_.size(), " bytes (retransmission or loss)"));
      }
      pieces_.push_back({offset, t.payload.size(), t.ts_us});
      bytes_ += t.payload;
    }
    if (t.flags & kFin) fin_ = true;
  }
  if (!isn) Fail(absl::StrCat("no SYN from port ", src_port, " to ", dst_port, " in the capture"));
}

int64_t CapturedStream::ts_us_at(uint64_t offset) const {
  auto it = std::upper_bound(pieces_.begin(), pieces_.end(), offset,
                             [](uint64_t o, const Piece& piece) { return o < piece.offset; });
  if (it == pieces_.begin() || offset >= std::prev(it)->offset + std::prev(it)->len) {
    Fail(absl::StrCat("byte ", offset, " is past the ", bytes_.size(), " captured bytes"));
  }
  return std::prev(it)->ts_us;
}

std::vector<uint16_t> ClientPorts(const std::vector<TcpPacket>& packets, uint16_t server_port) {
  std::vector<uint16_t> ports;
  for (const TcpPacket& t : packets) {
    if (t.dst_port == server_port && (t.flags & (kSyn | kAck)) == kSyn) ports.push_back(t.src_port);
  }
  return ports;
}

bool ConnectionsClosed(const std::vector<TcpPacket>& packets, uint16_t server_port, size_t count) {
  const std::vector<uint16_t> clients = ClientPorts(packets, server_port);
  if (clients.size() != count) return false;
  std::map<std::pair<uint16_t, uint16_t>, bool> fin;
  for (const TcpPacket& t : packets) {
    if (t.flags & kFin) fin[{t.src_port, t.dst_port}] = true;
  }
  return std::all_of(clients.begin(), clients.end(), [&](uint16_t c) {
    return fin[{c, server_port}] && fin[{server_port, c}];
  });
}

PacketCapture::PacketCapture(uint16_t port, std::string file) : file_(std::move(file)) {
  auto [err_r, err_w] = ChildOutputPipe();
  err_fd_ = err_r;
  // -B: in immediate mode every ring slot holds a whole snaplen (256 KiB with -s0), so the
  // default 2 MiB ring drops packets of a busy loopback; 64 MiB (256 slots) still dropped some
  // of redis-benchmark's while the machine's two cores were busy: 256 MiB, 1024 slots. -Z root:
  // keep the right to write into a private directory.
  pid_ = Spawn({"tcpdump", "-i", "lo", "-s0", "-U", "--immediate-mode", "-B", "262144", "-Z", "root",
                "-w", file_, absl::StrCat("tcp port ", port)},
               {}, {-1, err_w});
  close(err_w);
  pidfd_ = OpenPidfd(pid_);
  const Clock::time_point deadline = Clock::now() + milliseconds(10000);
  bool open = true;
  while (log_.find("listening on") == std::string::npos) {
    pollfd p{err_fd_, POLLIN, 0};
    const int rc = open ? poll(&p, 1, RemainingMs(deadline)) : 0;
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) FailErrno("poll on tcpdump's stderr");
    if (rc > 0) open = Drain(err_fd_, log_);
    if (rc == 0 || !open) {
      kill(pid_, SIGKILL);
      Reap(pid_);
      close(pidfd_);
      close(err_fd_);
      pid_ = -1;
      Fail(absl::StrCat("tcpdump did not start listening within 10 s: ", log_));
    }
  }
}

PacketCapture::~PacketCapture() {
  if (pid_ < 0) return;
  try {
    Stop();
  } catch (const std::exception&) {
    // Already failing; Stop() reaped what it could.
  }
}

void PacketCapture::WaitFor(const std::function<bool(const std::vector<TcpPacket>&)>& done,
                            std::string_view what, milliseconds timeout) {
  const int ino = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  if (ino < 0) FailErrno("inotify_init1");
  if (inotify_add_watch(ino, file_.c_str(), IN_MODIFY) < 0) {
    close(ino);
    FailErrno(absl::StrCat("inotify_add_watch on ", file_));
  }
  const Clock::time_point deadline = Clock::now() + timeout;
  // The watch is armed before each read, so a write after the read always wakes the poll.
  for (;;) {
    std::vector<TcpPacket> packets = ReadPcapFile(file_);
    if (done(packets)) break;
    pollfd p{ino, POLLIN, 0};
    const int rc = poll(&p, 1, RemainingMs(deadline));
    if (rc == 0) {
      close(ino);
      Fail(absl::StrCat("capture ", file_, " did not show ", std::string(what), " within ",
                        timeout.count(), " ms (", packets.size(), " packets)"));
    }
    char events[4096];
    while (read(ino, events, sizeof events) > 0) {
    }
  }
  close(ino);
}

PacketCapture::Result PacketCapture::StopOnceClosed(uint16_t server_port, size_t connections) {
  WaitFor(
      [&](const std::vector<TcpPacket>& p) { return ConnectionsClosed(p, server_port, connections); },
      absl::StrCat(connections, " connection(s) to port ", server_port, " closed both ways"));
  return Stop();
}

PacketCapture::Result PacketCapture::Stop() {
  Result r;
  if (pid_ < 0) Fail("tcpdump was already stopped");
  kill(pid_, SIGINT);
  const bool exited = WaitExit(pidfd_, Clock::now() + milliseconds(10000));
  if (!exited) kill(pid_, SIGKILL);
  const int status = Reap(pid_);
  pid_ = -1;
  close(pidfd_);
  while (Drain(err_fd_, log_)) {
    pollfd p{err_fd_, POLLIN, 0};
    if (poll(&p, 1, 1000) <= 0) break;
  }
  close(err_fd_);
  r.log = log_;
  if (!exited || status != 0) Fail(absl::StrCat("tcpdump ended with status ", status, ": ", log_));
  const std::optional<uint64_t> captured = NumberBefore(log_, " packets captured");
  const std::optional<uint64_t> dropped = NumberBefore(log_, " packets dropped by kernel");
  if (!captured || !dropped) Fail(absl::StrCat("tcpdump printed no packet counts: ", log_));
  r.captured = *captured;
  r.dropped_by_kernel = *dropped;
  return r;
}

std::string EncodeCommand(const std::vector<std::string>& args) {
  std::string out = absl::StrCat("*", args.size(), "\r\n");
  for (const std::string& a : args) absl::StrAppend(&out, "$", a.size(), "\r\n", a, "\r\n");
  return out;
}

RawConnection::RawConnection(uint16_t port) {
  fd_ = ConnectLoopback(port);
  if (fd_ < 0) Fail(absl::StrCat("connection to 127.0.0.1:", port, " refused"));
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) FailErrno("getsockname");
  local_port_ = ntohs(addr.sin_port);
}

RawConnection::~RawConnection() { Close(); }

void RawConnection::Close() {
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
}

void RawConnection::Abort() {
  if (fd_ < 0) return;
  const linger reset{1, 0};  // a zero linger time makes close() send RST
  if (setsockopt(fd_, SOL_SOCKET, SO_LINGER, &reset, sizeof reset) != 0) Fail("setsockopt(SO_LINGER) failed");
  Close();
}

std::string RawConnection::endpoint() const { return absl::StrCat("127.0.0.1:", local_port_); }

void RawConnection::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) FailErrno("send");
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

std::string RawConnection::ReadExactly(size_t n, milliseconds timeout) {
  const Clock::time_point deadline = Clock::now() + timeout;
  std::string got;
  while (got.size() < n) {
    pollfd p{fd_, POLLIN, 0};
    const int rc = poll(&p, 1, RemainingMs(deadline));
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) FailErrno("poll on a client socket");
    std::string buf(n - got.size(), '\0');
    const ssize_t r = rc == 0 ? -2 : read(fd_, buf.data(), buf.size());
    if (r == -1 && errno == EINTR) continue;
    if (r <= 0) {
      Fail(absl::StrCat("expected ", n, " reply bytes, got ", got.size(),
                        r == 0 ? " then EOF" : " then nothing", ": \"", absl::CEscape(got), "\""));
    }
    got.append(buf.data(), static_cast<size_t>(r));
  }
  return got;
}

void RawConnection::ExpectEof(milliseconds timeout) {
  pollfd p{fd_, POLLIN, 0};
  const int rc = poll(&p, 1, static_cast<int>(timeout.count()));
  char c;
  if (rc <= 0) Fail("the server did not close the connection");
  const ssize_t r = read(fd_, &c, 1);
  if (r != 0) Fail("the server sent more bytes where it should have closed the connection");
}

std::string RedisServerVersion() {
  const ProcessResult r = RunProcess({"redis-server", "--version"});
  // "Redis server v=7.0.15 sha=..."
  const size_t start = r.out.find(" v=");
  const size_t end = start == std::string::npos ? start : r.out.find(' ', start + 3);
  if (r.exit_status != 0 || end == std::string::npos) {
    Fail(absl::StrCat("redis-server --version gave no version: ", r.out, r.err));
  }
  return r.out.substr(start + 3, end - start - 3);
}

}  // namespace resptrace::live

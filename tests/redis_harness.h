// Harness for end-to-end tests against a live Redis: a throwaway redis-server on a free loopback
// port, a tcpdump capture of that port, child processes run to completion, a raw RESP client and
// a reader for the capture file tcpdump writes.
//
// Setup failures throw std::runtime_error saying what failed; GoogleTest reports the message as
// the failure of the test that hit it. Every wait is event-driven with a deadline, never a sleep.
#ifndef RESPTRACE_TESTS_REDIS_HARNESS_H_
#define RESPTRACE_TESTS_REDIS_HARNESS_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace resptrace::live {

using std::chrono::milliseconds;

// A private scratch directory, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

struct ProcessResult {
  int exit_status = -1;  // the exit code, or 128 + signal number
  std::string out;
  std::string err;
};

// Runs argv (argv[0] is looked up in PATH) to completion with stdin from /dev/null and
// `extra_env` ("NAME=value") added to the environment. Kills it and throws past `timeout`.
ProcessResult RunProcess(const std::vector<std::string>& argv,
                         const std::vector<std::string>& extra_env = {},
                         milliseconds timeout = milliseconds(20000));

// A redis-server child that keeps nothing on disk, listening on 127.0.0.1 only.
class RedisServer {
 public:
  // Returns once the server answers PING.
  RedisServer();
  // Stops the server (SIGTERM, then SIGKILL if it lingers) and waits for it.
  ~RedisServer();
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;

  uint16_t port() const { return port_; }
  std::string endpoint() const;  // "127.0.0.1:<port>"

 private:
  TempDir dir_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  uint16_t port_ = 0;
};

// A TCP packet of a capture, as the tests need it (IPv4 on loopback).
struct TcpPacket {
  int64_t ts_us = 0;
  uint16_t src_port = 0;
  uint16_t dst_port = 0;
  uint32_t seq = 0;
  uint8_t flags = 0;  // TCP flag bits, kSyn etc.
  std::string payload;
};
inline constexpr uint8_t kFin = 0x01;
inline constexpr uint8_t kSyn = 0x02;
inline constexpr uint8_t kRst = 0x04;
inline constexpr uint8_t kAck = 0x10;

// Reads a pcap file (Ethernet link type). A record cut at the end of the file (tcpdump still
// writing it) is left out. Throws for anything else that is not an IPv4 TCP packet.
std::vector<TcpPacket> ReadPcapFile(const std::string& path);

// One direction of one captured TCP connection: its bytes and when each one was captured.
class CapturedStream {
 public:
  // The stream from src_port to dst_port; its start is that side's SYN, which must be captured.
  CapturedStream(const std::vector<TcpPacket>& packets, uint16_t src_port, uint16_t dst_port);

  uint64_t size() const { return bytes_.size(); }
  const std::string& bytes() const { return bytes_; }
  bool fin() const { return fin_; }
  // Capture time of the packet that carried byte `offset` of the stream; throws past the end.
  int64_t ts_us_at(uint64_t offset) const;

 private:
  struct Piece {
    uint64_t offset;
    uint64_t len;
    int64_t ts_us;
  };
  std::string bytes_;
  std::vector<Piece> pieces_;
  bool fin_ = false;
};

// Client ports of the connections to server_port whose SYN is in the capture, in SYN order.
std::vector<uint16_t> ClientPorts(const std::vector<TcpPacket>& packets, uint16_t server_port);

// True when `count` connections to server_port were opened and both sides have sent FIN.
bool ConnectionsClosed(const std::vector<TcpPacket>& packets, uint16_t server_port, size_t count);

// `tcpdump -i lo -s0 -U -w FILE 'tcp port P'`, in immediate mode with a ring buffer large enough
// for loopback's 64 KiB frames, keeping root privileges so that it can write into a private
// directory.
class PacketCapture {
 public:
  // Returns once tcpdump says it is listening.
  PacketCapture(uint16_t port, std::string file);
  // Stops tcpdump if Stop() was not called.
  ~PacketCapture();
  PacketCapture(const PacketCapture&) = delete;
  PacketCapture& operator=(const PacketCapture&) = delete;

  const std::string& file() const { return file_; }

  // Rereads the file whenever tcpdump writes to it until `done(packets)` holds; throws after
  // `timeout`, naming `what` was awaited. Call before Stop() so that no packet is lost.
  void WaitFor(const std::function<bool(const std::vector<TcpPacket>&)>& done,
               std::string_view what, milliseconds timeout = milliseconds(10000));

  struct Result {
    uint64_t captured = 0;
    uint64_t dropped_by_kernel = 0;
    std::string log;  // tcpdump's standard error
  };
  // SIGINT, then waits for tcpdump to exit.
  Result Stop();
  // Waits until `connections` connections to `server_port` have closed both ways (so that
  // no packet of theirs is lost), then stops.
  Result StopOnceClosed(uint16_t server_port, size_t connections);

 private:
  std::string file_;
  pid_t pid_ = -1;
  int pidfd_ = -1;
  int err_fd_ = -1;
  std::string log_;
};

// RESP request encoding: an array of bulk strings.
std::string EncodeCommand(const std::vector<std::string>& args);

// A raw TCP client connection to 127.0.0.1:port.
class RawConnection {
 public:
  explicit RawConnection(uint16_t port);
  ~RawConnection();
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  uint16_t local_port() const { return local_port_; }
  std::string endpoint() const;  // "127.0.0.1:<local port>"

  // Writes every byte with one send() call (repeated only if the kernel takes part of them).
  void Send(std::string_view bytes);
  // Reads exactly n bytes; throws, showing what came, on EOF or after `timeout`.
  std::string ReadExactly(size_t n, milliseconds timeout = milliseconds(5000));
  // Waits for the peer to close; throws if bytes come instead or after `timeout`.
  void ExpectEof(milliseconds timeout = milliseconds(5000));
  void Close();
  // Closes with a reset (RST), as a client that crashes or times out can.
  void Abort();

 private:
  int fd_ = -1;
  uint16_t local_port_ = 0;
};

// The version of the redis-server binary ("7.0.15"), from `redis-server --version`.
std::string RedisServerVersion();

}  // namespace resptrace::live

#endif  // RESPTRACE_TESTS_REDIS_HARNESS_H_

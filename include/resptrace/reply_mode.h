// CLIENT REPLY ON | OFF | SKIP and RESET: the commands that decide whether the server
// answers a connection's commands, followed as the server follows them, so that a command
// it does not answer takes no reply meant for a later one. MONITOR and QUIT, which change
// what the connection is, are named here too (control_command.h recognises them all).
#ifndef RESPTRACE_REPLY_MODE_H_
#define RESPTRACE_REPLY_MODE_H_

#include <cstdint>

namespace resptrace {

enum class ReplyControl : uint8_t {
  kNone,   // any other command, or one of these with a bad argument (the server says why)
  kOn,     // CLIENT REPLY ON
  kOff,    // CLIENT REPLY OFF
  kSkip,   // CLIENT REPLY SKIP
  kReset,  // RESET
  kMonitor,  // MONITOR, without arguments
  kQuit,     // QUIT, without arguments
};

// Whether the server answers, for one connection: Redis's CLIENT_REPLY_OFF and
// CLIENT_REPLY_SKIP flags.
class ReplyMode {
 public:
  // The server runs the connection's next command (malformed ones included: their protocol
  // error is a reply like any other). True when it sends that command no reply.
  bool RunSilently(ReplyControl control);

 private:
  bool off_ = false;
  bool skip_this_ = false;  // the command run now follows a CLIENT REPLY SKIP
};

}  // namespace resptrace

#endif  // RESPTRACE_REPLY_MODE_H_

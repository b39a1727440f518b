// CLIENT REPLY ON | OFF | SKIP and RESET: the commands that decide whether the server
// answers a connection's commands, followed as the server follows them, so that a command
// it does not answer takes no reply meant for a later one. MONITOR and QUIT, which change
// what the connection is, are recognised here too: one matcher reads every request.
#ifndef RESPTRACE_REPLY_MODE_H_
#define RESPTRACE_REPLY_MODE_H_

#include <cstddef>
#include <cstdint>

#include "resptrace/resp_parser.h"

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

// Recognises a ReplyControl command from a request's parser events, names matched ignoring
// case as Redis does. A request is an array of bulk strings, so each scalar piece is part of
// one top-level argument. Any other command is ruled out by the length of its name, before
// a byte of it is compared; nothing is copied or allocated.
class ReplyControlMatcher {
 public:
  void Begin() { *this = ReplyControlMatcher(); }
  // The request's argument count, command name included.
  void Arguments(int64_t argc) { argc_ = argc; }
  void Piece(const ScalarPiece& piece) {
    if (!ruled_out_) Match(piece);
  }
  // What the whole request was; read once it is complete.
  ReplyControl control() const { return ruled_out_ ? ReplyControl::kNone : control_; }

 private:
  void Match(const ScalarPiece& piece);
  // The word, in lower case, that an argument of `len` bytes in this position must be;
  // null when none can be.
  const char* Expect(int64_t len);

  int64_t argc_ = 0;
  int64_t argument_ = -1;       // index of the argument being read
  const char* word_ = nullptr;  // what it must be
  size_t matched_ = 0;          // bytes of it matched so far
  ReplyControl control_ = ReplyControl::kNone;
  bool ruled_out_ = false;
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

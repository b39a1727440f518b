// The commands that change how the server answers a connection, recognised in one pass over
// a request's parser events: CLIENT REPLY ON | OFF | SKIP, RESET, MONITOR and QUIT (the reply
// mode, reply_mode.h), MULTI / EXEC / DISCARD (transaction.h), the (P|S)(UN)SUBSCRIBE
// commands and HELLO 2 | 3 (subscription.h). Every other command is ruled out by the length
// of its name, before a byte of it is compared; nothing is copied or allocated.
#ifndef RESPTRACE_CONTROL_COMMAND_H_
#define RESPTRACE_CONTROL_COMMAND_H_

#include <cstdint>

#include "resptrace/reply_mode.h"
#include "resptrace/resp_parser.h"
#include "resptrace/subscription.h"
#include "resptrace/transaction.h"
#include "resptrace/word_matcher.h"

namespace resptrace {

// What a request does to the connection, for each part of its state that follows it. All
// none for any other command, and for one of these with arguments the server rejects.
struct ControlCommand {
  ReplyControl reply = ReplyControl::kNone;
  TxCommand tx = TxCommand::kNone;
  PubSubRequest pubsub;  // a RESET is PubSub::kReset here too
};

class ControlCommandMatcher {
 public:
  void Begin() {
    argc_ = 0;
    argument_ = -1;
    name_ = arg1_ = -1;
    done_ = false;
  }
  // The request's argument count, command name included. A request's only aggregate is
  // its top-level array, so each scalar piece is part of one argument.
  void Arguments(int64_t argc) { argc_ = argc; }
  void Piece(const ScalarPiece& piece) {
    if (!done_) Match(piece);
  }
  // What the whole request was; read once it is complete.
  ControlCommand command() const;

 private:
  void Match(const ScalarPiece& piece);

  int64_t argc_ = 0;
  int64_t argument_ = -1;  // index of the argument being read
  int name_ = -1;          // the command's word, once its name is read
  int arg1_ = -1;          // CLIENT's or HELLO's first argument's word, once read
  bool done_ = false;      // no argument from here on changes what the request is
  WordMatcher word_;
};

}  // namespace resptrace

#endif  // RESPTRACE_CONTROL_COMMAND_H_

#include "resptrace/reply_mode.h"

namespace resptrace {

bool ReplyMode::RunSilently(ReplyControl control) {
  bool silent = off_ || skip_this_;
  bool skip_next = false;
  switch (control) {
    case ReplyControl::kNone:
    case ReplyControl::kMonitor:
    case ReplyControl::kQuit:
      break;
    case ReplyControl::kOn:  // clears both flags, then answers +OK
      off_ = false;
      silent = false;
      break;
    case ReplyControl::kOff:  // answers nothing
      off_ = true;
      silent = true;
      break;
    case ReplyControl::kSkip:  // answers nothing; does nothing while replies are off
      skip_next = !off_;
      silent = true;
      break;
    case ReplyControl::kReset:  // clears OFF, but not the skip of the command being run
      off_ = false;
      silent = skip_this_;
      break;
  }
  skip_this_ = skip_next;
  return silent;
}

}  // namespace resptrace

#include "resptrace/reply_mode.h"

namespace resptrace {

const char* ReplyControlMatcher::Expect(int64_t len) {
  switch (argument_) {
    case 0:
      if (argc_ == 3 && len == 6) return "client";
      if (argc_ != 1) return nullptr;
      switch (len) {
        case 4: control_ = ReplyControl::kQuit; return "quit";
        case 5: control_ = ReplyControl::kReset; return "reset";
        case 7: control_ = ReplyControl::kMonitor; return "monitor";
      }
      return nullptr;
    case 1:
      return len == 5 ? "reply" : nullptr;
    case 2:
      switch (len) {
        case 2: control_ = ReplyControl::kOn; return "on";
        case 3: control_ = ReplyControl::kOff; return "off";
        case 4: control_ = ReplyControl::kSkip; return "skip";
      }
      return nullptr;
  }
  return nullptr;
}

void ReplyControlMatcher::Match(const ScalarPiece& piece) {
  if (piece.first) {
    ++argument_;
    word_ = Expect(piece.declared_len);
    matched_ = 0;
  }
  // Bytes lost in a gap could have been anything.
  if (word_ == nullptr || piece.missing != 0) {
    ruled_out_ = true;
    return;
  }
  // The pieces of an argument add up to its declared length, the word's: no overrun. The
  // words are letters, and (c | 0x20) is a lower-case letter only for that letter's cases.
  for (const char c : piece.data) {
    if ((c | 0x20) != word_[matched_++]) {
      ruled_out_ = true;
      return;
    }
  }
}

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

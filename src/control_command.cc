#include "resptrace/control_command.h"

#include <string_view>

namespace resptrace {
namespace {

// Lower case. The pub/sub names come first, in PubSub's order from kSubscribe.
enum Word : int {
  kSubscribe, kPsubscribe, kSsubscribe, kUnsubscribe, kPunsubscribe, kSunsubscribe,
  kHello, kClient, kReset, kMonitor, kQuit, kMulti, kExec, kDiscard,  // names
  kReply, kOn, kOff, kSkip, kVersion2, kVersion3,                      // arguments
};
constexpr std::string_view kWords[] = {
    "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
    "hello",     "client",     "reset",      "monitor",     "quit",         "multi",
    "exec",      "discard",    "reply",      "on",          "off",          "skip",
    "2",         "3",
};
constexpr WordList kList = MakeWordList(kWords);
constexpr uint32_t Bit(Word w) { return 1u << w; }
constexpr uint32_t kNames = (1u << (kDiscard + 1)) - 1;
constexpr uint32_t kModes = Bit(kOn) | Bit(kOff) | Bit(kSkip);
constexpr uint32_t kVersions = Bit(kVersion2) | Bit(kVersion3);

}  // namespace

void ControlCommandMatcher::Match(const ScalarPiece& piece) {
  if (piece.first) {
    ++argument_;
    switch (argument_) {
      case 0:
        word_.Start(kList, piece.declared_len, kNames);
        break;
      case 1:
        name_ = word_.word();
        // Only CLIENT REPLY's and HELLO's arguments are read past the name.
        if (name_ == kClient && argc_ == 3) {
          word_.Start(kList, piece.declared_len, Bit(kReply));
        } else if (name_ == kHello) {
          word_.Start(kList, piece.declared_len, kVersions);
        } else {
          done_ = true;
        }
        break;
      case 2:
        arg1_ = word_.word();
        if (arg1_ == kReply) {
          word_.Start(kList, piece.declared_len, kModes);
        } else {
          done_ = true;
        }
        break;
      default:
        done_ = true;
        break;
    }
    if (!done_ && !word_.possible()) done_ = true;
    if (done_) return;
  }
  // Bytes lost in a gap could have been anything.
  if (piece.missing != 0) {
    word_.Fail();
    done_ = true;
    return;
  }
  word_.Feed(piece.data);
}

ControlCommand ControlCommandMatcher::command() const {
  ControlCommand c;
  if (argument_ < 0) return c;
  // The last argument read is settled here; a failed one (done_ early) matched nothing.
  const int last = done_ ? -1 : word_.word();
  const int name = argument_ == 0 ? last : name_;
  if (name < 0) return c;
  if (name <= kSunsubscribe) {
    c.pubsub.kind = static_cast<PubSub>(static_cast<int>(PubSub::kSubscribe) + name);
    c.pubsub.channels = static_cast<uint32_t>(argc_ - 1);
    return c;
  }
  if (argc_ == 1) {
    switch (name) {
      case kQuit: c.reply = ReplyControl::kQuit; break;
      case kMonitor: c.reply = ReplyControl::kMonitor; break;
      case kMulti: c.tx = TxCommand::kMulti; break;
      case kExec: c.tx = TxCommand::kExec; break;
      case kDiscard: c.tx = TxCommand::kDiscard; break;
      case kReset:
        c.reply = ReplyControl::kReset;
        c.tx = TxCommand::kReset;
        c.pubsub.kind = PubSub::kReset;
        break;
      default: break;
    }
    return c;
  }
  if (name == kHello && argument_ >= 1) {
    const int version = argument_ == 1 ? last : arg1_;
    if (version == kVersion2) c.pubsub.kind = PubSub::kHello2;
    if (version == kVersion3) c.pubsub.kind = PubSub::kHello3;
    return c;
  }
  if (name == kClient && argc_ == 3 && arg1_ == kReply) {
    switch (last) {
      case kOn: c.reply = ReplyControl::kOn; break;
      case kOff: c.reply = ReplyControl::kOff; break;
      case kSkip: c.reply = ReplyControl::kSkip; break;
      default: break;
    }
  }
  return c;
}

}  // namespace resptrace

#include "resptrace/subscription.h"

#include <algorithm>
#include <array>
#include <utility>

namespace resptrace {
namespace {

// Lower case; PubSub values kSubscribe .. kSmessage are indexes 0 .. 8, then HELLO's words.
constexpr std::string_view kWords[] = {
    "subscribe", "psubscribe", "ssubscribe", "unsubscribe", "punsubscribe", "sunsubscribe",
    "message",   "pmessage",   "smessage",   "hello",       "2",            "3",
};
constexpr int kHello = 9;
constexpr uint32_t kCommandWords = 0x3f | (1u << kHello);
constexpr uint32_t kVersionWords = 3u << 10;
constexpr uint32_t kReplyWords = 0x1ff;

PubSub FromWord(int word) { return static_cast<PubSub>(word + 1); }

// For each length, the words of that length: most values are ruled out by one lookup.
constexpr size_t kMaxWordLen = 12;
constexpr std::array<uint32_t, kMaxWordLen + 1> kWordsOfLength = [] {
  std::array<uint32_t, kMaxWordLen + 1> by_len{};
  for (uint32_t w = 0; w < std::size(kWords); ++w) by_len[kWords[w].size()] |= 1u << w;
  return by_len;
}();

}  // namespace

void WordMatcher::Start(int64_t len, uint32_t allowed) {
  candidates_ = len >= 0 && len <= static_cast<int64_t>(kMaxWordLen) ? kWordsOfLength[len] & allowed : 0;
  len_ = len;
  pos_ = 0;
}

void WordMatcher::Feed(std::string_view data) {
  // The pieces of a value add up to its declared length: no overrun.
  for (const char c : data) {
    if (candidates_ == 0) return;
    const char lower = c >= 'A' && c <= 'Z' ? static_cast<char>(c | 0x20) : c;
    for (uint32_t w = 0; w < std::size(kWords); ++w) {
      if ((candidates_ >> w & 1) != 0 && lower != kWords[w][pos_]) candidates_ &= ~(1u << w);
    }
    ++pos_;
  }
}

int WordMatcher::word() const {
  if (candidates_ == 0 || pos_ != len_) return -1;
  for (int w = 0; w < static_cast<int>(std::size(kWords)); ++w) {
    if ((candidates_ >> w & 1) != 0) return w;
  }
  return -1;
}

void PubSubRequestMatcher::Match(const ScalarPiece& piece) {
  if (piece.first) {
    ++argument_;
    if (argument_ == 0) {
      word_.Start(piece.declared_len, kCommandWords);
      // Most commands are ruled out by their name's length alone: nothing more is read.
      if (!word_.possible()) {
        done_ = true;
        return;
      }
    } else if (argument_ == 1) {
      // Only HELLO's version is read past the name.
      const int w = word_.word();
      if (w != kHello) {
        kind_ = w < 0 ? PubSub::kNone : FromWord(w);
        done_ = true;
        return;
      }
      word_.Start(piece.declared_len, kVersionWords);
    } else {
      const int w = word_.word();
      kind_ = w == kHello + 1 ? PubSub::kHello2 : w == kHello + 2 ? PubSub::kHello3 : PubSub::kNone;
      done_ = true;
      return;
    }
  }
  // Bytes lost in a gap could have been anything.
  if (piece.missing != 0) {
    word_.Start(-1, 0);
    done_ = true;
    return;
  }
  word_.Feed(piece.data);
}

PubSubRequest PubSubRequestMatcher::Recognised() const {
  PubSubRequest r;
  if (argument_ < 0 || argc_ < 1) return r;
  if (done_) {
    r.kind = kind_;
  } else {
    const int w = word_.word();
    if (argument_ == 0) {
      if (w >= 0 && w < kHello) r.kind = FromWord(w);  // HELLO alone changes nothing
    } else if (argument_ == 1) {
      r.kind = w == kHello + 1 ? PubSub::kHello2 : w == kHello + 2 ? PubSub::kHello3 : PubSub::kNone;
    }
  }
  if (IsConfirmation(r.kind)) r.channels = static_cast<uint32_t>(argc_ - 1);
  return r;
}

void PubSubReplyMatcher::OnAggregate(RespType type, int64_t count) {
  if (payload_) return;  // inside a message's aggregate payload: not read
  if (!root_seen_ && (type == RespType::kArray || type == RespType::kPush) && (count == 3 || count == 4)) {
    root_seen_ = true;
    children_ = count;
    return;
  }
  // Confirmations and messages are flat, but for a message's third element: CLIENT TRACKING's
  // invalidations redirected to a RESP2 connection are messages on __redis__:invalidate whose
  // third element is the array of keys. Any other aggregate rules the reply out.
  if (kind_ == PubSub::kMessage && child_ == 1 && children_ == 3) {
    child_ = 2;
    payload_ = true;
    return;
  }
  active_ = false;
  kind_ = PubSub::kNone;
}

void PubSubReplyMatcher::OnPiece(const ScalarPiece& piece) {
  if (!root_seen_) {  // a scalar reply
    active_ = false;
    return;
  }
  if (payload_) {
    // Nothing in it is read, but bytes lost in a gap rule a message out, as in a flat one.
    if (piece.missing != 0) {
      kind_ = PubSub::kNone;
      active_ = false;
    }
    return;
  }
  if (piece.first) {
    ++child_;
    if (child_ == 0) word_.Start(piece.declared_len, kReplyWords);
    if (child_ == 1) {
      const int w = word_.word();
      if (w < 0) {
        active_ = false;
        return;
      }
      kind_ = FromWord(w);
    }
    if (child_ == 2 && IsConfirmation(kind_)) {
      if (piece.type != RespType::kInteger) {
        kind_ = PubSub::kNone;
        active_ = false;
        return;
      }
      count_ = 0;
      negative_ = false;
    }
  }
  if (piece.missing != 0) {
    kind_ = PubSub::kNone;
    active_ = false;
    return;
  }
  if (child_ == 0) word_.Feed(piece.data);
  // Only a confirmation's count is read past the first element.
  if (child_ == 2 && IsConfirmation(kind_)) {
    for (const char c : piece.data) {
      if (c == '-') {
        negative_ = true;
      } else if (c >= '0' && c <= '9' && count_ < (int64_t{1} << 40)) {
        count_ = count_ * 10 + (c - '0');
      }
    }
  }
}

PubSubReply PubSubReplyMatcher::Recognised() const {
  PubSubReply r;
  const int64_t want = kind_ == PubSub::kPmessage ? 4 : 3;
  if (kind_ == PubSub::kNone || children_ != want || child_ + 1 != children_) return r;
  r.kind = kind_;
  r.count = negative_ ? 0 : count_;
  return r;
}

bool Subscriptions::IsPushSeen(RespType root, PubSubReply seen, const PubSubRequest* front) const {
  const bool awaited = IsConfirmation(seen.kind) && front != nullptr && front->kind == seen.kind;
  if (root == RespType::kPush) return !awaited;
  // In RESP2 subscribed mode the server runs only pub/sub commands, PING, QUIT and RESET:
  // nothing else they answer looks like these.
  return !resp3_ && subscribed() && seen.kind != PubSub::kNone && !awaited;
}

void Subscriptions::Count(PubSubReply seen) {
  switch (seen.kind) {
    case PubSub::kSubscribe:
    case PubSub::kUnsubscribe:
      // The other kind's number is unchanged; a count below it means we knew it wrong.
      channels_ = std::max<int64_t>(seen.count - patterns_, 0);
      patterns_ = std::min(patterns_, seen.count);
      break;
    case PubSub::kPsubscribe:
    case PubSub::kPunsubscribe:
      patterns_ = std::max<int64_t>(seen.count - channels_, 0);
      channels_ = std::min(channels_, seen.count);
      break;
    case PubSub::kSsubscribe:
    case PubSub::kSunsubscribe:
      shard_channels_ = seen.count;
      break;
    default:
      break;
  }
}

Message* Subscriptions::Collect(const PubSubRequest& front, PubSubReply seen, Message& reply) {
  if (!IsConfirmation(front.kind) || seen.kind != front.kind) {
    if (collecting_ == 0) return &reply;
    // Fewer confirmations came than the subscriptions we knew of called for.
    leftover_ = true;
    return &collected_[0];
  }
  if (collecting_ == 0) {
    // Without arguments, one per subscription of that kind, or one (naming no channel)
    // when there is none.
    const int64_t known = front.kind == PubSub::kUnsubscribe    ? channels_
                          : front.kind == PubSub::kPunsubscribe ? patterns_
                                                                : shard_channels_;
    expected_ = front.channels != 0 ? front.channels : std::max<int64_t>(known, 1);
  }
  Count(seen);
  if (collecting_ == collected_.size()) collected_.emplace_back();
  std::swap(collected_[collecting_++], reply);
  if (static_cast<int64_t>(collecting_) < expected_) return nullptr;
  return &collected_[0];
}

absl::Span<Message* const> Subscriptions::Finished(const PubSubRequest& request, const Message* reply,
                                                   NoReply why) {
  const bool ok = reply != nullptr && !IsError(reply->root_type());
  switch (request.kind) {
    case PubSub::kHello2:
    case PubSub::kHello3:
      if (ok) resp3_ = request.kind == PubSub::kHello3;
      break;
    case PubSub::kReset:
      // RESET always succeeds, answered or not (CLIENT REPLY SKIP).
      if (ok || why == NoReply::kReplyOff) {
        resp3_ = false;
        channels_ = patterns_ = shard_channels_ = 0;
      }
      break;
    default:
      if (IsConfirmation(request.kind)) --awaiting_;
      break;
  }
  Rewatch();
  views_.clear();
  if (IsConfirmation(request.kind)) {
    for (size_t i = 0; i < collecting_; ++i) views_.push_back(&collected_[i]);
    collecting_ = 0;
  }
  return views_;
}

}  // namespace resptrace

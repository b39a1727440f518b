#include "resptrace/subscription.h"

#include <algorithm>
#include <iterator>
#include <utility>

namespace resptrace {
namespace {

// Lower case, in PubSub's order from kSubscribe: a word's index + 1 is its PubSub value.
constexpr std::string_view kReplyWords[] = {
    "subscribe",    "psubscribe",   "ssubscribe", "unsubscribe", "punsubscribe",
    "sunsubscribe", "message",      "pmessage",   "smessage",
};
constexpr WordList kReplyList = MakeWordList(kReplyWords);
constexpr uint32_t kAllReplyWords = (1u << std::size(kReplyWords)) - 1;

PubSub FromWord(int word) { return static_cast<PubSub>(word + 1); }

}  // namespace

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
    if (child_ == 0) word_.Start(kReplyList, piece.declared_len, kAllReplyWords);
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
  return !resp3_ && MayBeSubscribed() && seen.kind != PubSub::kNone && !awaited;
}

void Subscriptions::Count(PubSubReply seen) {
  switch (seen.kind) {
    case PubSub::kSubscribe:
    case PubSub::kUnsubscribe:
    case PubSub::kPsubscribe:
    case PubSub::kPunsubscribe:
      maybe_subscribed_ = false;  // the count is of channels and patterns: now known
      break;
    default:
      break;
  }
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
        maybe_subscribed_ = false;
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

// Pub/sub and the protocol version, followed as the server follows them: which replies are
// the confirmations a (P|S)(UN)SUBSCRIBE command gets, one per channel, and which are
// messages that answer no command (RESP2 arrays while subscribed, RESP3 `>` pushes).
// Commands and replies are recognised from the parsers' events, without copying or
// allocating; a reply's first elements are read only while a connection is subscribed or
// awaits confirmations.
#ifndef RESPTRACE_SUBSCRIPTION_H_
#define RESPTRACE_SUBSCRIPTION_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/types/span.h"
#include "resptrace/message.h"
#include "resptrace/record.h"
#include "resptrace/resp_parser.h"
#include "resptrace/word_matcher.h"

namespace resptrace {

// What a request does to pub/sub or the protocol, or what a reply is. A confirmation's
// kind is the command's it answers.
enum class PubSub : uint8_t {
  kNone,
  kSubscribe,
  kPsubscribe,
  kSsubscribe,
  kUnsubscribe,
  kPunsubscribe,
  kSunsubscribe,
  kMessage,   // replies only
  kPmessage,
  kSmessage,
  kHello2,    // requests only
  kHello3,
  kReset,
};

inline bool IsConfirmation(PubSub k) { return k >= PubSub::kSubscribe && k <= PubSub::kSunsubscribe; }

struct PubSubRequest {
  PubSub kind = PubSub::kNone;
  uint32_t channels = 0;  // (UN)SUBSCRIBE's channel or pattern arguments
};

struct PubSubReply {
  PubSub kind = PubSub::kNone;
  int64_t count = 0;  // a confirmation's subscription count (its third element)
};

// Recognises confirmations and messages from a reply's parser events: an array or push of
// 3 (4 for pmessage) scalars whose first names the kind; a message's third element may be an
// aggregate (CLIENT TRACKING's keys).
class PubSubReplyMatcher {
 public:
  // `watch` false: the reply is not looked at.
  void Begin(bool watch) {
    active_ = watch;
    if (!watch) return;  // the rest is read only while active
    root_seen_ = false;
    child_ = -1;
    kind_ = PubSub::kNone;
    count_ = 0;
    payload_ = false;
  }
  void Aggregate(RespType type, int64_t count) {
    if (active_) OnAggregate(type, count);
  }
  void Piece(const ScalarPiece& piece) {
    if (active_) OnPiece(piece);
  }
  PubSubReply reply() const { return active_ ? Recognised() : PubSubReply{}; }

 private:
  PubSubReply Recognised() const;
  void OnAggregate(RespType type, int64_t count);
  void OnPiece(const ScalarPiece& piece);
  bool active_ = false;
  bool root_seen_ = false;
  int64_t children_ = 0;
  int64_t child_ = -1;
  PubSub kind_ = PubSub::kNone;
  int64_t count_ = 0;
  bool negative_ = false;
  bool payload_ = false;  // in a message's aggregate third element, the last: nothing more is read
  WordMatcher word_;
};

// One connection's protocol and subscriptions, and the confirmations of the command at the
// front of the queue.
class Subscriptions {
 public:
  // Whether replies are to be looked at: confirmations are due, or RESP2 messages can come.
  bool watching() const { return watching_; }
  bool subscribed() const { return channels_ + patterns_ + shard_channels_ != 0; }

  // The capture joined the connection mid-stream, or lost track of what it subscribed
  // to: until a confirmation or a RESET says, it may be subscribed.
  void Unsure() {
    maybe_subscribed_ = true;
    Rewatch();
  }

  // A request is complete and well formed (control_command.h): returns what is to be
  // followed of it.
  PubSubRequest Requested(PubSubRequest request) {
    if (IsConfirmation(request.kind)) {
      ++awaiting_;
      watching_ = true;
    }
    return request;
  }
  // Server data that answers no command: a RESP3 push other than a confirmation `front`
  // awaits, a RESP2 message while subscribed, or a confirmation no command awaits.
  bool IsPush(RespType root, PubSubReply seen, const PubSubRequest* front) const {
    if (seen.kind == PubSub::kNone) return root == RespType::kPush;
    return IsPushSeen(root, seen, front);
  }
  // What `front` is answered with: `reply`, or once its confirmations are all in, the
  // first of them (the rest are kept for Finish). Null while more are due: `reply` is
  // then kept here, swapped with spare storage.
  Message* Answer(const PubSubRequest& front, PubSubReply seen, Message& reply) {
    if (collecting_ == 0 && !IsConfirmation(front.kind)) return &reply;
    return Collect(front, seen, reply);
  }
  // True once after Answer ended a run of confirmations early: `reply` is no confirmation
  // of the front command and is to be paired with the next one.
  bool TakeLeftover() {
    if (!leftover_) return false;
    leftover_ = false;
    return true;
  }
  // The command is reported: what it did takes effect. Returns the confirmations it was
  // answered with (valid until the next reply), empty for any other command.
  absl::Span<Message* const> Finish(const PubSubRequest& request, const Message* reply, NoReply why) {
    if (request.kind == PubSub::kNone) return {};
    return Finished(request, reply, why);
  }

 private:
  bool IsPushSeen(RespType root, PubSubReply seen, const PubSubRequest* front) const;
  Message* Collect(const PubSubRequest& front, PubSubReply seen, Message& reply);
  absl::Span<Message* const> Finished(const PubSubRequest& request, const Message* reply, NoReply why);
  // Counts from a confirmation: the server's count is channels and patterns together,
  // shard channels apart.
  void Count(PubSubReply seen);

  // In RESP2, messages are arrays: the connection's arrays are looked at while it is or may
  // be subscribed.
  bool MayBeSubscribed() const { return subscribed() || maybe_subscribed_; }
  void Rewatch() { watching_ = awaiting_ != 0 || (!resp3_ && MayBeSubscribed()); }

  bool resp3_ = false;
  bool watching_ = false;  // watching(), kept up to date: it is read for every reply
  bool maybe_subscribed_ = false;
  uint32_t awaiting_ = 0;  // pub/sub commands not yet reported
  int64_t channels_ = 0;
  int64_t patterns_ = 0;
  int64_t shard_channels_ = 0;
  // Confirmations of the front command: collected_[0 .. collecting_), the expected number.
  std::vector<Message> collected_;
  std::vector<Message*> views_;
  size_t collecting_ = 0;
  int64_t expected_ = 0;
  bool leftover_ = false;
};

}  // namespace resptrace

#endif  // RESPTRACE_SUBSCRIPTION_H_

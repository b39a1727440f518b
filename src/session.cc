#include "resptrace/session.h"

#include <algorithm>
#include <utility>

#include "resptrace/command_table.h"
#include "resptrace/redaction.h"
#include "resptrace/resp_parser_impl.h"

namespace resptrace {

std::string_view NoReplyName(NoReply r) {
  switch (r) {
    case NoReply::kAnswered: return "";
    case NoReply::kEndOfCapture: return "eof";
    case NoReply::kClosed: return "closed";
    case NoReply::kReset: return "reset";
    case NoReply::kIdleTimeout: return "timeout";
    case NoReply::kEvicted: return "evicted";
    case NoReply::kGap: return "gap";
    case NoReply::kDesync: return "desync";
    case NoReply::kReplyOff: return "reply_off";
  }
  return "";
}

void ErrorCounts::Count(std::string_view prefix) {
  if (!prefix.empty()) {
    for (size_t i = 0; i < prefixes; ++i) {
      if (by_prefix[i].name() == prefix) {
        ++by_prefix[i].count;
        return;
      }
    }
    if (prefixes < kMaxPrefixes) {
      Entry& e = by_prefix[prefixes++];
      std::copy(prefix.begin(), prefix.end(), e.prefix);
      e.len = static_cast<uint8_t>(prefix.size());
      e.count = 1;
      return;
    }
  }
  ++other;
}

void Session::RequestSide::OnMessageBegin(int64_t ts_ns, bool inline_command) {
  in_request_ = true;
  proven_in_step_ = false;
  // Exchanges count only out of step (a loss resets them): in step, nothing is evaluated.
  if (s_.desynced_ && s_.request_parser_ != nullptr) {
    const uint64_t offset = s_.request_parser_->message_offset();
    s_.lockstep_ = s_.LastRequestAnsweredAlone(offset) ? s_.lockstep_ + 1 : 0;
    proven_in_step_ = s_.lockstep_ >= kLockstepProof;
    // This request, for the exchange it begins: alone if nothing was sent, skipped or lost
    // since the server last sent data, all of which the client had (before the server's
    // first data, settled when that comes).
    const bool nothing_between =
        s_.requests_since_server_data_ == 0 && offset == s_.requests_end_offset_;
    s_.last_request_alone_ =
        nothing_between && (s_.server_spoke_ ? s_.ClientHadAllReplies() &&
                                                   s_.reply_parser_ != nullptr &&
                                                   s_.reply_parser_->at_boundary()
                                             : s_.has_request_ack_);
    s_.last_request_ack_ = s_.request_ack_;
    s_.replies_at_last_request_ = s_.replies_;
  } else {
    s_.last_request_alone_ = false;
  }
  s_.last_request_expected_ = 0;
  ++s_.requests_since_server_data_;
  reading_name_ = s_.desynced_ || s_.joining_;
  inline_ = inline_command;
  name_ok_ = false;
  name_done_ = false;
  name_len_ = 0;
  control_.Begin();
  builder_.Begin(&s_.StartRequest().request, ts_ns, inline_command);
}

void Session::RequestSide::OnMessageEnd(int64_t ts_ns, uint64_t wire_bytes) {
  if (s_.request_parser_ != nullptr) {
    s_.requests_end_offset_ = s_.request_parser_->message_offset() + wire_bytes;
  }
  Pending& p = s_.Waiting(s_.waiting_);
  Message& m = p.request;
  if (s_.not_resp_) {
    in_request_ = false;
    return;
  }
  if (s_.joining_) {
    // Joined mid-stream, what parses as a request may be bytes of a value: the stream
    // starts at the first request of a command the server has.
    in_request_ = false;
    // An inline command is any line: only a RESP array is a safe start.
    if (inline_ || !StartsSafely(name())) {
      ++s_.counters_->join_skipped;
      return;
    }
    s_.joining_ = false;
  }
  m.last_ts_ns = ts_ns;
  m.wire_bytes = wire_bytes;
  m.end_offset = s_.RequestEndLowerBound();
  m.cut_short = s_.cutting_short_;
  in_request_ = false;
  const ControlCommand control = control_.command();
  p.tx = control.tx;
  p.pubsub = s_.subscriptions_.Requested(control.pubsub);
  s_.OnRequest(control.reply);
}

void Session::RequestSide::OnProtocolError(RespError error, int64_t ts_ns, uint64_t wire_bytes) {
  if (error == RespError::kGap) {
    s_.OnRequestLost();
    // Bytes past the request's name were lost: it is still a command the client sent, if
    // it started where a request may (after a gap, as at a join: one of a known command).
    if (in_request_ && name_done_ && (!s_.joining_ || (!inline_ && StartsSafely(name())))) {
      s_.joining_ = false;
      s_.Waiting(s_.waiting_).cut_by_gap = true;
      EndInsideRequest();
    }
    in_request_ = false;
    // Whatever follows may be the rest of a value: requests start again where a joined
    // stream's do.
    s_.joining_ = true;
    return;
  }
  proven_in_step_ = false;
  if (s_.not_resp_) {
    in_request_ = false;
    return;
  }
  if (s_.joining_) {  // not yet at the first request: these bytes are no command
    in_request_ = false;
    ++s_.counters_->join_skipped;
    return;
  }
  // Redis answers a request it cannot parse with "-ERR Protocol error: ..." and closes
  // the connection: keep a place in the queue for that answer.
  ++s_.counters_->request_errors;
  Pending& p = in_request_ ? s_.Waiting(s_.waiting_) : s_.StartRequest();
  Message& m = p.request;
  const int64_t first_ts = in_request_ ? m.first_ts_ns : ts_ns;
  m.Clear();
  m.first_ts_ns = first_ts;
  m.last_ts_ns = ts_ns;
  m.wire_bytes = wire_bytes;
  m.end_offset = s_.RequestEndLowerBound();
  p.malformed = RespErrorName(error);
  in_request_ = false;
  s_.OnRequest(ReplyControl::kNone);
}

void Session::RequestSide::ReadName(const ScalarPiece& piece) {
  // A request's first scalar is its command's name.
  if (piece.missing != 0 || piece.declared_len > static_cast<int64_t>(kMaxName)) {
    reading_name_ = false;
    return;
  }
  std::copy(piece.data.begin(), piece.data.end(), name_ + name_len_);
  name_len_ += piece.data.size();
  if (piece.last) {
    name_ok_ = true;
    reading_name_ = false;
  }
}

void Session::RequestSide::EndInsideRequest() {
  if (!in_request_ || s_.not_resp_) return;
  proven_in_step_ = false;
  if (s_.joining_) {
    in_request_ = false;
    ++s_.counters_->join_skipped;
    return;
  }
  builder_.CutShort();
  Message& m = s_.Waiting(s_.waiting_).request;
  m.last_ts_ns = m.first_ts_ns;
  m.wire_bytes = s_.request_parser_ != nullptr ? s_.request_parser_->message_bytes() : 0;
  in_request_ = false;
  s_.OnRequest(ReplyControl::kNone);
}

void Session::ReplySide::OnMessageBegin(int64_t ts_ns, bool) {
  builder_.Begin(&reply_, ts_ns, false);
  pubsub_.Begin(s_.subscriptions_.watching());
  line_state_ = kLineStart;
  has_ack_ = s_.has_reply_ack_;
  ack_ = s_.reply_ack_;
  has_data_ack_ = s_.server_spoke_;
  data_ack_ = s_.server_data_ack_;
}

void Session::ReplySide::ReadLineStart(std::string_view data) {
  for (const char c : data) {
    const bool digit = c >= '0' && c <= '9';
    switch (line_state_) {
      case kLineStart: line_state_ = digit ? kLineSeconds : kLineNot; break;
      case kLineSeconds: line_state_ = digit ? kLineSeconds : c == '.' ? kLineDot : kLineNot; break;
      case kLineDot: line_state_ = digit ? kLineMicros : kLineNot; break;
      case kLineMicros: line_state_ = digit ? kLineMicros : c == ' ' ? kLineSpace : kLineNot; break;
      case kLineSpace: line_state_ = c == '[' ? kLineMatched : kLineNot; break;
      default: return;
    }
  }
}

void Session::ReplySide::OnMessageEnd(int64_t ts_ns, uint64_t wire_bytes) {
  reply_.last_ts_ns = ts_ns;
  reply_.wire_bytes = wire_bytes;
  reply_.cut_short = s_.cutting_short_;
  s_.OnReply(reply_, has_ack_, ack_);
}

void Session::ReplySide::OnProtocolError(RespError error, int64_t, uint64_t) {
  if (s_.not_resp_) return;
  if (!s_.server_answered_ && !s_.joined_ && error == RespError::kBadType) {
    // The server's first bytes start no RESP value (TLS, another protocol on the port):
    // what the client sent was no Redis command either.
    s_.StopDecoding();
    return;
  }
  if (error == RespError::kTooDeep) {
    ++s_.counters_->too_deep;
  } else if (error != RespError::kGap) {
    ++s_.counters_->reply_errors;
  }
  s_.OnRepliesLost(error == RespError::kGap ? NoReply::kGap : NoReply::kDesync);
}

Session::Session(const SessionOptions& options, const Endpoint& client, const Endpoint& server,
                 RecordSink* sink, SessionCounters* counters)
    : options_(options),
      client_(client),
      server_(server),
      client_name_(client.ToString()),
      server_name_(server.ToString()),
      sink_(sink),
      counters_(counters),
      request_side_(*this),
      reply_side_(*this),
      transaction_(options.max_pending, &counters->transaction_overflows) {}

Session::~Session() = default;

void Session::StopDecoding() {
  ++counters_->not_resp;
  not_resp_ = true;
  // Its requests are no commands: dropped, counted with the connection.
  counters_->commands -= waiting_;
  head_ = waiting_ = 0;
  held_replies_ = held_expected_ = 0;
}

void Session::JoinMidStream() {
  ++counters_->joined;
  joined_ = true;
  joining_ = true;
  desynced_ = true;  // until proven in step; counted as joined, not as a desync
  request_side_.StartSearching();
  reply_side_.StartSearching();
  subscriptions_.Unsure();
  WatchMonitorLines();
}

bool Session::StartsSafely(std::string_view name) {
  return !name.empty() && MatchCommand(name, {}).info != nullptr;
}

bool Session::InStepAt(uint64_t request_offset) const {
  // The request is in step when the server had every byte sent before it when it last
  // sent, and the client had every byte of that (whole replies), and no more, before
  // sending it. Bytes the client had that the capture has not (yet) shown may be replies
  // to commands before it. Not enough alone: the server's kernel acknowledges bytes the
  // server has yet to read (Redis reads 16 KiB at a time), so the client must also be seen
  // to wait for each reply (LastRequestAnsweredAlone). A command blocked from before the
  // capture began is what this cannot see.
  if (!ClientHadAllReplies() || reply_parser_ == nullptr || !reply_parser_->at_boundary()) {
    return false;
  }
  const uint32_t start = request_seq_base_ + static_cast<uint32_t>(request_offset);
  return static_cast<int32_t>(server_data_ack_ - start) >= 0;
}

bool Session::ClientHadAllReplies() const {
  return server_spoke_ && has_request_ack_ && request_ack_ == server_data_end_;
}

bool Session::LastRequestAnsweredAlone(uint64_t next_offset) const {
  return last_request_alone_ && last_request_expected_ != 0 &&
         replies_ - replies_at_last_request_ == last_request_expected_ && InStepAt(next_offset);
}

void Session::ProveInStep() {
  // Every command sent before the proof point is answered, and the server answers in
  // order: the last replies, as many as the commands waiting, are theirs, whatever came
  // before them. Counted back from the last, up to the first that does not fit: a reply
  // that cannot be its command's shows the replies misread there (after a gap), and the
  // commands before it are left unmatched.
  const size_t fitting = FittingFrom();
  for (size_t i = 0; i < fitting; ++i) {
    for (uint32_t n = Expected(Waiting(0)); n != 0; --n) {
      ++counters_->orphan_replies;
      PopHeld();
    }
    EmitOldestUnanswered(NoReply::kDesync);
  }
  while (waiting_ != 0) {
    Pending& p = Waiting(0);
    Message* answer = nullptr;
    for (uint32_t i = 0; i < Expected(p); ++i) {
      answer = subscriptions_.Answer(p.pubsub, held_info_[HeldIndex(0)].seen, HeldReply(0));
      PopHeld();
    }
    Emit(p, answer, NoReply::kAnswered);
    PopFront();
  }
  DropHeld(NoReply::kDesync);
  ++counters_->realigned;
  desynced_ = false;
  in_step_pending_ = SIZE_MAX;
  WatchMonitorLines();
}

uint32_t Session::RepliesExpected(const Pending& p, bool silent) const {
  if (silent || p.request.cut_short || p.control != ReplyControl::kNone) return 0;
  if (!p.malformed.empty()) return 1;  // the server's protocol error is its one reply
  switch (p.pubsub.kind) {
    case PubSub::kNone:
      break;
    case PubSub::kHello2:
    case PubSub::kHello3:
      return 1;
    default:
      // One confirmation per channel named; without any, one per subscription, unknown here.
      return IsConfirmation(p.pubsub.kind) ? p.pubsub.channels : 0;
  }
  return 1;
}

void Session::ExpireOldestUnproven() {
  held_expected_ -= Expected(Waiting(0));
  while (held_replies_ > held_expected_) {
    ++counters_->orphan_replies;
    PopHeld();
  }
  EmitOldestUnanswered(NoReply::kDesync);
}

size_t Session::FittingFrom() const {
  // A pub/sub command's replies are confirmations of its kind, and no other command's are.
  size_t r = held_replies_;
  for (size_t i = waiting_; i-- != 0;) {
    const Pending& p = queue_[(head_ + i) & (queue_.size() - 1)];
    const PubSub want = IsConfirmation(p.pubsub.kind) ? p.pubsub.kind : PubSub::kNone;
    const uint32_t expected = Expected(p);
    if (expected > r) return i + 1;
    for (uint32_t n = 0; n < expected; ++n) {
      const HeldInfo& h = held_info_[HeldIndex(r - expected + n)];
      if ((IsConfirmation(h.seen.kind) ? h.seen.kind : PubSub::kNone) != want ||
          (h.has_ack && SentBefore(h.ack, p))) {
        return i + 1;
      }
    }
    r -= expected;
  }
  return 0;
}

bool Session::SentBefore(uint32_t ack, const Pending& p) const {
  if (request_parser_ == nullptr) return false;
  const uint32_t request_end = request_seq_base_ + static_cast<uint32_t>(p.request.end_offset);
  return static_cast<int32_t>(ack - request_end) < 0;
}

void Session::PopHeld() {
  held_head_ = (held_head_ + 1) & (held_.size() - 1);
  --held_replies_;
}

void Session::HoldReply(Message& reply, PubSubReply seen) {
  // A reply that came before a command was sent cannot be that command's: keep no more
  // than the waiting commands expect.
  if (held_expected_ == 0) {
    ++counters_->orphan_replies;
    return;
  }
  if (held_replies_ == held_expected_) {
    ++counters_->orphan_replies;
    PopHeld();
  }
  if (held_replies_ == held_.size()) {
    const size_t size = held_.empty() ? 4 : 2 * held_.size();
    std::vector<Message> grown(size);
    std::vector<HeldInfo> grown_info(size);
    for (size_t i = 0; i < held_replies_; ++i) {
      grown[i] = std::move(HeldReply(i));
      grown_info[i] = held_info_[HeldIndex(i)];
    }
    held_ = std::move(grown);
    held_info_ = std::move(grown_info);
    held_head_ = 0;
  }
  held_info_[HeldIndex(held_replies_)] =
      HeldInfo{seen, reply_side_.has_data_ack(), reply_side_.data_ack()};
  std::swap(HeldReply(held_replies_++), reply);
}

void Session::DropHeld(NoReply why) {
  counters_->orphan_replies += held_replies_;
  held_replies_ = 0;
  held_expected_ = 0;
  while (waiting_ != 0) EmitOldestUnanswered(why);
}

Session::Pending& Session::StartRequest() {
  if (waiting_ == queue_.size()) {
    std::vector<Pending> grown(queue_.empty() ? 1 : 2 * queue_.size());
    for (size_t i = 0; i < waiting_; ++i) grown[i] = std::move(Waiting(i));
    queue_ = std::move(grown);
    head_ = 0;
  }
  Pending& p = Waiting(waiting_);
  p.malformed = {};
  p.cut_by_gap = false;
  p.tx = TxCommand::kNone;
  p.pubsub = {};
  p.control = ReplyControl::kNone;
  return p;
}

void Session::PopFront() {
  head_ = (head_ + 1) & (queue_.size() - 1);
  --waiting_;
}

Record Session::NewRecord(RecordKind kind) const {
  Record r;
  r.kind = kind;
  r.client = &client_;
  r.server = &server_;
  r.client_name = client_name_;
  r.server_name = server_name_;
  return r;
}

void Session::Write(Message& request, std::string_view malformed, Message* reply, NoReply why,
                    TxOutcome tx, ValueNode* exec_result, absl::Span<Message* const> replies) {
  MarkSecrets(request, reply);
  if (exec_result != nullptr) MarkSecrets(request, transaction_.exec_reply(), exec_result);
  Record r = NewRecord(RecordKind::kCommand);
  r.request = &request;
  r.reply = reply;
  r.no_reply = why;
  r.replies = {replies.data(), replies.size()};
  r.malformed = malformed;
  r.transaction = tx;
  r.exec_reply = exec_result != nullptr ? transaction_.exec_reply() : nullptr;
  r.exec_result = exec_result;
  LookUpCommand(request, r);
  if (reply != nullptr) {
    ++counters_->replies;
    if (IsError(reply->root_type())) counters_->errors.Count(reply->error_prefix.view());
  } else {
    ++counters_->unanswered;
  }
  sink_->Write(r);
}

void Session::Emit(Pending& p, Message* reply, NoReply why) {
  // A pub/sub command's confirmations, those that came if the connection ended first.
  const absl::Span<Message* const> replies = subscriptions_.Finish(p.pubsub, reply, why);
  if (!replies.empty()) {
    reply = replies[0];
    why = NoReply::kAnswered;
  }
  TxOutcome tx = TxOutcome::kNone;
  if (transaction_.engaged(p.tx) && EmitInTransaction(p, reply, why, &tx)) return;
  Write(p.request, p.malformed, reply, why, tx, nullptr, replies);
}

bool Session::EmitInTransaction(Pending& p, Message* reply, NoReply why, TxOutcome* tx) {
  const bool exec_ran = p.tx == TxCommand::kExec && reply != nullptr && reply->root_type() == RespType::kArray;
  if (transaction_.Take(p.tx, p.request, p.malformed, reply, why, tx)) {
    if (IsConfirmation(p.pubsub.kind)) pubsub_queued_ = true;
    return true;
  }
  if (pubsub_queued_ && !transaction_.engaged(TxCommand::kNone)) {
    // EXEC's array holds the first confirmation of each pub/sub command it ran; the others
    // follow it, answering no command, and the connection may now be subscribed.
    if (exec_ran) subscriptions_.Unsure();
    pubsub_queued_ = false;
  }
  if (transaction_.held() != 0) WriteHeld();
  return false;
}

void Session::WriteHeld() {
  for (size_t i = 0; i < transaction_.held(); ++i) {
    HeldRecord& h = transaction_.held_record(i);
    Write(h.request, h.malformed, h.has_reply ? &h.reply : nullptr, h.why, h.outcome,
          h.exec_result);
  }
  transaction_.ClearHeld();
}

void Session::LookUpCommand(const Message& request, Record& r) {
  const ValueNode* root = request.root();
  if (root == nullptr || root->type != RespType::kArray || root->children == 0) return;
  const ValueNode* name = Message::first_child(root);
  arg_views_.clear();
  const ValueNode* arg = Message::next_sibling(name);
  for (uint32_t i = 1; i < root->children; ++i, arg = Message::next_sibling(arg)) {
    arg_views_.push_back(request.data(*arg));
  }
  // A name cut by --max-value-bytes could pass for a shorter command.
  const CommandMatch match =
      name->truncated ? CommandMatch{} : MatchCommand(request.data(*name), arg_views_);
  r.command = match.info;
  r.unknown_command = match.info == nullptr;
  r.has_subcommand = match.subcommand;
  if (match.info == nullptr) return;
  key_args_.clear();
  FindKeyArgs(*match.info, arg_views_, arg_views_.size() + root->elided, &key_args_);
  r.key_args = key_args_;
}

void Session::EmitOldestUnanswered(NoReply why) {
  Pending& p = Waiting(0);
  Emit(p, nullptr, p.silent ? NoReply::kReplyOff : p.cut_by_gap ? NoReply::kGap : why);
  PopFront();
}

void Session::OnRequest(ReplyControl control) {
  ++counters_->commands;
  Waiting(waiting_).index = requests_++;
  // Inside MULTI the server queues CLIENT REPLY and MONITOR rather than run them (QUIT and
  // RESET run at once); at EXEC it refuses MONITOR, and CLIENT REPLY is not followed there.
  const TxCommand tx = Waiting(waiting_).tx;
  if (multi_sent_ && control != ReplyControl::kReset && control != ReplyControl::kQuit) {
    control = ReplyControl::kNone;
  }
  if (tx == TxCommand::kMulti) {
    multi_sent_ = true;
  } else if (tx != TxCommand::kNone) {
    multi_sent_ = false;
  }
  // The server runs every request it gets, in order, whatever we make of its replies.
  // A MONITOR sent while monitoring, or after one not yet answered, is ignored: no +OK.
  const bool repeat_monitor = control == ReplyControl::kMonitor && (monitoring_ || monitor_sent_);
  if (control == ReplyControl::kMonitor) monitor_sent_ = true;
  if (control == ReplyControl::kReset) monitor_sent_ = false;
  const bool silent = reply_mode_.RunSilently(control) || repeat_monitor;
  if (desynced_) last_request_expected_ = RepliesExpected(Waiting(waiting_), silent);
  if (control == ReplyControl::kMonitor && silent && !repeat_monitor) {
    // Run while replies are off: no +OK, but the lines come once replies are on again.
    monitoring_ = true;
    WatchMonitorLines();
  }
  // A command still blocked (BLPOP) leaves fewer replies than expected: no proof yet.
  if (desynced_ && request_side_.proven_in_step() && held_replies_ == held_expected_) {
    ProveInStep();
  }
  if (!desynced_ && waiting_ >= options_.max_pending) {
    ++counters_->pending_overflows;
    Desync(NoReply::kDesync);
  }
  Pending& p = Waiting(waiting_);
  if (desynced_) {
    // Out of step, a command waits to be proven in step, unless the count of its replies
    // is unknown: then it and those before it are reported unmatched.
    const uint32_t expected = RepliesExpected(p, silent);
    while (expected != 0 && waiting_ != 0 && waiting_ >= options_.max_unproven) {
      ++counters_->unproven_overflows;
      ExpireOldestUnproven();
    }
    if (waiting_ < options_.max_pending && expected != 0 &&
        held_expected_ + expected <= options_.max_pending) {
      p.control = control;
      p.silent = false;
      held_expected_ += expected;
      ++waiting_;
      return;
    }
    if (expected != 0) ++counters_->pending_overflows;  // waiting for a proof, past the bound
    // Emptying the queue from the front leaves the request in the slot after it.
    DropHeld(NoReply::kDesync);
    Emit(p, nullptr, p.cut_by_gap ? NoReply::kGap : NoReply::kDesync);
    return;
  }
  p.control = control;
  // After lost requests, one of them may have changed the reply mode: expect a reply, so
  // that one that comes shows the connection out of step rather than pairing.
  p.silent = silent && in_step_pending_ == SIZE_MAX;
  if ((p.silent || p.cut_by_gap) && waiting_ == 0) {
    Emit(p, nullptr, p.silent ? NoReply::kReplyOff : NoReply::kGap);
    return;
  }
  ++waiting_;
}

void Session::WritePush(Message& reply) {
  ++counters_->pushes;
  Record r = NewRecord(RecordKind::kPush);
  r.reply = &reply;
  sink_->Write(r);
}

void Session::WriteGap(bool in_requests, uint64_t bytes, int64_t ts_ns) {
  if (not_resp_) return;
  Record r = NewRecord(RecordKind::kGap);
  r.gap_bytes = bytes;
  r.gap_in_requests = in_requests;
  r.gap_ts_ns = ts_ns;
  sink_->Write(r);
}

void Session::Follow(ReplyControl control) {
  switch (control) {
    case ReplyControl::kMonitor: monitoring_ = true; break;
    case ReplyControl::kReset: monitoring_ = false; break;
    case ReplyControl::kQuit: quit_ = true; break;
    default: break;
  }
  WatchMonitorLines();
}

void Session::OnReply(Message& reply, bool has_ack, uint32_t ack) {
  if (not_resp_) return;
  server_answered_ = true;
  if (reply_side_.monitor_line()) {
    if (!monitoring_) {  // joined mid-stream, it was monitoring
      monitoring_ = true;
      WatchMonitorLines();
    }
    WritePush(reply);
    return;
  }
  const PubSubReply seen = reply_side_.pubsub();
  if (desynced_ && IsConfirmation(seen.kind) && held_expected_ != 0) {
    // Out of step, a confirmation may be a waiting command's: the count decides.
    ++replies_;
    HoldReply(reply, seen);
    return;
  }
  // Only a confirmation needs the command it may answer.
  const PubSubRequest* awaiting =
      seen.kind != PubSub::kNone && waiting_ != 0 && !desynced_ ? &Waiting(0).pubsub : nullptr;
  if (subscriptions_.IsPush(reply.root_type(), seen, awaiting)) {
    WritePush(reply);
    return;
  }
  // A reply left over from a run of confirmations comes here twice: counted twice, it
  // only stops an exchange from counting as answered alone.
  ++replies_;
  if (in_step_pending_ == 0) {
    // Every command sent before a request-side gap is answered: this reply answers one lost
    // in the gap, or one sent after it.
    AwaitProofAfterRequestGap();
    HoldReply(reply, seen);
    return;
  }
  if (desynced_) {
    HoldReply(reply, seen);
    return;
  }
  if (waiting_ == 0) {
    ++counters_->orphan_replies;
    return;
  }
  Pending& front = Waiting(0);
  // A reply sent before the server had the request answers an earlier command, one this
  // capture did not see (joined mid-stream).
  if (has_ack && SentBefore(ack, front)) {
    ++counters_->orphan_replies;
    return;
  }
  Message* answer = subscriptions_.Answer(front.pubsub, seen, reply);
  if (answer == nullptr) return;  // one of several confirmations: more are due
  if (front.control != ReplyControl::kNone && !IsError(answer->root_type())) {
    Follow(front.control);
  } else if (front.control == ReplyControl::kMonitor) {
    monitor_sent_ = monitoring_;  // refused: a later MONITOR is answered
  }
  Emit(front, answer, NoReply::kAnswered);
  PopFront();
  if (in_step_pending_ != SIZE_MAX) --in_step_pending_;
  // Silent commands waited only for the ones before them, and so did one a gap cut. A
  // silent one was sent before the gap, if any: it counts among those in step.
  while (waiting_ != 0 && (Waiting(0).silent || Waiting(0).cut_by_gap)) {
    const bool counted = Waiting(0).silent;
    EmitOldestUnanswered(NoReply::kReplyOff);
    if (counted && in_step_pending_ != SIZE_MAX) --in_step_pending_;
  }
  if (subscriptions_.TakeLeftover()) OnReply(reply, has_ack, ack);
}

uint64_t Session::RequestEndLowerBound() const {
  // The request ends inside the piece being parsed, so at least one byte past its start.
  // Exact ends would cost the parser's hot path; this bound only ever lets a check pass.
  return request_parser_ != nullptr ? request_parser_->piece_offset() + 1 : 0;
}

void Session::OnRequestLost() {
  after_gap_index_ = requests_;
  lockstep_ = 0;
  last_request_alone_ = false;
  if (desynced_) {  // commands went missing: the count of replies proves nothing now
    DropHeld(NoReply::kGap);
    return;
  }
  if (in_step_pending_ == SIZE_MAX) in_step_pending_ = waiting_;
}

void Session::OnRepliesLost(NoReply why) { Desync(why); }

void Session::AwaitProofAfterRequestGap() {
  ++counters_->desyncs;
  desynced_ = true;
  in_step_pending_ = SIZE_MAX;
  WatchMonitorLines();
  transaction_.Abandon();
  WriteHeld();
  // The commands waiting were sent after the gap: those sent after the last one have their
  // replies after the lost requests', and a proof pairs them by counting, as it does a
  // joined connection's. Those sent before it cannot be (a lost request's reply may come
  // among theirs), nor can one whose count of replies is unknown, nor those before it.
  size_t uncounted = 0;
  size_t expected = 0;
  for (size_t i = 0; i < waiting_; ++i) {
    const uint32_t n = RepliesExpected(Waiting(i), false);
    expected += n;
    if (n == 0 || Waiting(i).index < after_gap_index_) {
      uncounted = i + 1;
      expected = 0;
    }
  }
  if (expected > options_.max_pending) uncounted = waiting_;
  for (; uncounted != 0; --uncounted) EmitOldestUnanswered(NoReply::kDesync);
  held_expected_ = waiting_ != 0 ? expected : 0;
  while (waiting_ > options_.max_unproven) {
    ++counters_->unproven_overflows;
    ExpireOldestUnproven();
  }
}

void Session::Desync(NoReply why) {
  lockstep_ = 0;
  last_request_alone_ = false;
  if (!desynced_) ++counters_->desyncs;
  desynced_ = true;
  in_step_pending_ = SIZE_MAX;
  WatchMonitorLines();
  transaction_.Abandon();
  WriteHeld();
  DropHeld(why);
}

void Session::Close(NoReply why) {
  // Both FINs seen, the client's first (whatever ended the connection here: segments held
  // back are applied at the end of the capture).
  const bool closed_by_client = client_closed_first_ && server_fin_;
  // After QUIT's +OK the server closes: what was sent after it is never answered, whichever
  // way the capture saw the connection end.
  if (quit_) why = NoReply::kClosed;
  // Out of step, the end of the client's stream may be the proof point its commands wait
  // for. When the client closed first and the server closed after it, the server answered
  // every command it had before it read the end of the stream (Redis reads it last), and
  // its last reply came before its FIN: the last replies are theirs, however the client
  // pipelined. Otherwise (the capture or the server ended it) the last exchange must show
  // the client waiting, ending at the end of the stream (or at the request cut short).
  if (desynced_ && waiting_ != 0 && request_parser_ != nullptr && held_replies_ == held_expected_ &&
      reply_parser_ != nullptr && reply_parser_->at_boundary()) {
    const bool proven =
        closed_by_client ||
        (request_side_.in_request()
             ? lockstep_ >= kLockstepProofAtEnd && InStepAt(request_parser_->message_offset())
             : lockstep_ + (LastRequestAnsweredAlone(request_parser_->consumed()) ? 1 : 0) >=
                   kLockstepProofAtEnd);
    if (proven) ProveInStep();
  }
  if (desynced_) why = NoReply::kDesync;
  request_side_.EndInsideRequest();
  transaction_.Abandon();
  WriteHeld();
  DropHeld(why);
}

template class BasicRespParser<Session::RequestSide>;
template class BasicRespParser<Session::ReplySide>;

}  // namespace resptrace

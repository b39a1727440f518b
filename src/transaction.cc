#include "resptrace/transaction.h"

#include <utility>

namespace resptrace {
namespace {

bool IsQueued(const Message& reply) {
  if (reply.root_type() != RespType::kSimpleString) return false;
  // Values not kept: inside a transaction the server's other simple strings answer commands
  // that run at once (QUIT, RESET), which are rare.
  const ValueNode* root = reply.root();
  return root == nullptr || reply.data(*root) == "QUEUED";
}

// What EXEC's reply says became of the transaction.
TxOutcome ExecOutcome(const Message& reply) {
  switch (reply.root_type()) {
    case RespType::kArray: return TxOutcome::kExec;
    case RespType::kNull: return TxOutcome::kWatchAbort;  // *-1 in RESP2, _ in RESP3
    default:
      // EXEC refused (a command rejected while queuing, or EXEC itself rejected) says
      // EXECABORT; anything else means the transaction was not the server's.
      return reply.error_prefix.view() == "EXECABORT" ? TxOutcome::kExecAbort
                                                      : TxOutcome::kUnknown;
  }
}

}  // namespace

std::string_view TxOutcomeName(TxOutcome t) {
  switch (t) {
    case TxOutcome::kNone: return "";
    case TxOutcome::kExec: return "exec";
    case TxOutcome::kExecAbort: return "execabort";
    case TxOutcome::kWatchAbort: return "watch_abort";
    case TxOutcome::kDiscard: return "discard";
    case TxOutcome::kUnknown: return "unknown";
    case TxOutcome::kOverflow: return "overflow";
  }
  return "";
}

bool Transaction::Take(TxCommand command, Message& request, std::string_view malformed,
                       Message* reply, NoReply why, TxOutcome* outcome) {
  *outcome = TxOutcome::kNone;
  if (!open_) {
    // Only the server's +OK to MULTI opens one; a MULTI it refuses, or never answers, does not.
    open_ = command == TxCommand::kMulti && reply != nullptr && !IsError(reply->root_type());
    return false;
  }
  switch (command) {
    case TxCommand::kExec:
      End(reply != nullptr ? ExecOutcome(*reply) : TxOutcome::kUnknown, reply);
      return false;
    case TxCommand::kDiscard:
    case TxCommand::kReset:
      // Refused (NOPERM), they leave the transaction open.
      if (reply == nullptr || !IsError(reply->root_type())) {
        End(reply != nullptr ? TxOutcome::kDiscard : TxOutcome::kUnknown, nullptr);
        return false;
      }
      break;
    case TxCommand::kMulti:  // nested: an error, and the transaction goes on
    case TxCommand::kNone:
      break;
  }
  const bool queued = reply != nullptr && IsQueued(*reply);
  if (!overflowed_ && held_ == max_held_) {
    ++*overflows_;
    overflowed_ = true;
    for (size_t i = 0; i < held_; ++i) {
      if (slots_[i].queued) slots_[i].outcome = TxOutcome::kOverflow;
    }
  }
  if (overflowed_) {
    *outcome = queued ? TxOutcome::kOverflow : TxOutcome::kNone;
    return false;
  }
  if (held_ == slots_.size()) slots_.emplace_back();
  HeldRecord& h = slots_[held_++];
  std::swap(h.request, request);
  h.has_reply = reply != nullptr;
  if (h.has_reply) std::swap(h.reply, *reply);
  h.queued = queued;
  h.malformed = malformed;
  h.why = why;
  h.outcome = TxOutcome::kNone;
  h.exec_result = nullptr;
  if (queued) ++queued_;
  return true;
}

void Transaction::End(TxOutcome outcome, Message* exec_reply) {
  open_ = false;
  if (overflowed_) {  // its records are written already
    overflowed_ = false;
    queued_ = 0;
    return;
  }
  // EXEC's array has one element per command queued, in order. When the count differs (a
  // command this capture missed), which result is whose is unknown: none is linked.
  ValueNode* root = exec_reply != nullptr ? exec_reply->mutable_root() : nullptr;
  const bool link = outcome == TxOutcome::kExec && root != nullptr &&
                    root->children + root->elided == queued_;
  exec_reply_ = link ? exec_reply : nullptr;
  ValueNode* result = link ? root + 1 : nullptr;  // the first child
  uint32_t results = link ? root->children : 0;  // those kept, past --max-elements none
  for (size_t i = 0; i < held_; ++i) {
    HeldRecord& h = slots_[i];
    if (!h.queued) continue;
    h.outcome = outcome;
    if (results != 0) {
      h.exec_result = result;
      result += result->subtree;  // the next sibling
      --results;
    }
  }
  queued_ = 0;
}

void Transaction::Abandon() {
  if (open_) End(TxOutcome::kUnknown, nullptr);
}

}  // namespace resptrace

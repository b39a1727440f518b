// MULTI / EXEC / DISCARD, followed as the server answers them: the records of the commands
// sent inside a transaction wait for its end, so that each command the server queued can carry
// its own result from EXEC's reply, or what became of the transaction instead.
#ifndef RESPTRACE_TRANSACTION_H_
#define RESPTRACE_TRANSACTION_H_

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "resptrace/message.h"
#include "resptrace/record.h"

namespace resptrace {

enum class TxCommand : uint8_t {
  kNone,  // any other command, or one of these with arguments (the server rejects those)
  kMulti,
  kExec,
  kDiscard,
  kReset,  // drops a transaction as DISCARD does
};

// A command's record kept until its transaction ends.
struct HeldRecord {
  Message request;
  Message reply;  // valid when has_reply
  bool has_reply = false;
  bool queued = false;  // the server answered QUEUED
  std::string_view malformed;
  NoReply why = NoReply::kAnswered;
  TxOutcome outcome = TxOutcome::kNone;  // set for a queued command when the transaction ends
  ValueNode* exec_result = nullptr;  // its element of exec_reply(), when kept
};

// One connection's transaction state, changed by the server's replies (a MULTI it refuses
// opens nothing). Records of commands answered while a transaction is open are held, in
// order, up to max_held of them; past that the transaction's records are written at once,
// without results, and `overflows` is counted.
class Transaction {
 public:
  Transaction(size_t max_held, uint64_t* overflows) : max_held_(max_held), overflows_(overflows) {}

  // A command's record is ready, in request order; `reply` is null when it has none. True
  // when the transaction keeps it: its messages are swapped with held ones, buffers and all.
  // Otherwise it is written now with `*outcome`, after the held() records, which this
  // record may have just ended the transaction of.
  bool Take(TxCommand command, Message& request, std::string_view malformed, Message* reply,
            NoReply why, TxOutcome* outcome);
  // False when Take() would do nothing: outside a transaction, for any command but MULTI.
  bool engaged(TxCommand command) const { return open_ || command == TxCommand::kMulti; }
  // The connection ended or lost step inside a transaction: what became of it is unknown.
  void Abandon();

  // Records to write, in order, before the record Take() returned false for; then ClearHeld().
  size_t held() const { return held_; }
  HeldRecord& held_record(size_t i) { return slots_[i]; }
  // The EXEC reply that held records' exec_result point into: the record Take() returned
  // false for.
  Message* exec_reply() const { return exec_reply_; }
  void ClearHeld() {
    held_ = 0;
    exec_reply_ = nullptr;
  }

 private:
  void End(TxOutcome outcome, Message* exec_reply);

  size_t max_held_;
  uint64_t* overflows_;
  bool open_ = false;
  bool overflowed_ = false;  // past max_held: written as they come
  size_t queued_ = 0;        // held records answered QUEUED
  // Held records are slots_[0, held_): slots only grow, reused from one transaction to the
  // next, so that holding allocates nothing once they have grown.
  std::vector<HeldRecord> slots_;
  size_t held_ = 0;
  // Mutable: the results' secrets are marked when their records are written.
  Message* exec_reply_ = nullptr;
};

}  // namespace resptrace

#endif  // RESPTRACE_TRANSACTION_H_

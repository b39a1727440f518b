// What the pipeline produces: one record per command, with its reply when one came.
#ifndef RESPTRACE_RECORD_H_
#define RESPTRACE_RECORD_H_

#include <cstdint>
#include <string_view>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "resptrace/command_table.h"
#include "resptrace/flow_key.h"
#include "resptrace/message.h"

namespace resptrace {

// Why a command has no reply.
enum class NoReply : uint8_t {
  kAnswered,      // it has one
  kEndOfCapture,  // the capture ended first
  kClosed,        // the connection closed (FIN) first
  kReset,         // the connection was reset (RST)
  kIdleTimeout,   // the connection went idle past --idle-timeout
  kEvicted,       // the connection was the least recently active when --max-flows was reached
  kGap,           // replies were lost in a capture gap: which one was its reply is unknown
  kDesync,        // sent while the connection was out of step after a gap
  kReplyOff,      // the server answers it nothing: CLIENT REPLY OFF or SKIP was in force
};
// "eof", "closed", "reset", "timeout", "evicted", "gap", "desync", "reply_off"; "" for
// kAnswered.
std::string_view NoReplyName(NoReply r);

// What became of the transaction (MULTI ... EXEC) a command was queued in.
enum class TxOutcome : uint8_t {
  kNone,        // not queued in a transaction
  kExec,        // EXEC ran it: its result is in exec_result
  kExecAbort,   // EXEC answered EXECABORT (a command was rejected while queuing): none ran
  kWatchAbort,  // EXEC answered null (a WATCHed key changed): none ran
  kDiscard,     // DISCARD or RESET dropped the transaction: none ran
  kUnknown,     // its end was not seen (the connection ended, or lost step)
  kOverflow,    // more commands than --max-pending inside it: written without results
};
// "exec", "execabort", "watch_abort", "discard", "unknown", "overflow"; "" for kNone.
std::string_view TxOutcomeName(TxOutcome t);

enum class RecordKind : uint8_t {
  kCommand,  // a command and its reply
  kPush,     // a RESP3 push: server data that answers no command
  kGap,      // bytes of one direction the capture lost: whatever they held is not reported
};

struct Record {
  RecordKind kind = RecordKind::kCommand;
  const Endpoint* client = nullptr;
  const Endpoint* server = nullptr;
  // The endpoints as text ("10.0.0.1:50000", "[::1]:6379"), formatted once per connection.
  std::string_view client_name;
  std::string_view server_name;
  const Message* request = nullptr;  // the command; null for a push
  const Message* reply = nullptr;    // null when no reply; the push itself for a push
  // A pub/sub command's confirmations, one per channel, `reply` the first; empty for any
  // other command.
  absl::Span<const Message* const> replies;
  NoReply no_reply = NoReply::kAnswered;
  // Set when the client sent bytes that are not a valid request (Redis answers those
  // with a protocol error); `request` then holds no value.
  std::string_view malformed;
  // What the command table says of the request, looked up once per command by Session;
  // left unset for a malformed request or one whose values were not kept.
  const CommandInfo* command = nullptr;  // the command, or the subcommand it names
  bool unknown_command = false;          // names a command or subcommand the table lacks
  bool has_subcommand = false;           // its first argument names a subcommand
  // The key arguments, as indexes among the arguments after the command name. A request's
  // elements are all bulk strings, one node each: argument i is node i + 2.
  absl::Span<const uint32_t> key_args;
  // Set for a command the server queued in a transaction; exec_result is its element of
  // EXEC's reply (in exec_reply) when the transaction ran and that element was kept.
  TxOutcome transaction = TxOutcome::kNone;
  const Message* exec_reply = nullptr;
  const ValueNode* exec_result = nullptr;
  // A gap: how many bytes were lost, from which stream, and when the capture showed it.
  uint64_t gap_bytes = 0;
  bool gap_in_requests = false;
  int64_t gap_ts_ns = 0;

  int64_t ts_ns() const {
    if (kind == RecordKind::kGap) return gap_ts_ns;
    return request ? request->first_ts_ns : reply->first_ts_ns;
  }
  // The last message of the reply: a pub/sub command is answered once every confirmation is in.
  const Message* last_reply() const { return replies.empty() ? reply : replies.back(); }
  // From the request's first byte to the reply's last byte.
  int64_t latency_ns() const { return last_reply()->last_ts_ns - request->first_ts_ns; }
  // The reply's size on the wire, every confirmation included.
  uint64_t reply_bytes() const {
    if (replies.empty()) return reply != nullptr ? reply->wire_bytes : 0;
    uint64_t bytes = 0;
    for (const Message* m : replies) bytes += m->wire_bytes;
    return bytes;
  }
};

// Where records go. One virtual call per record, none per byte.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  virtual void Write(const Record& record) = 0;
  // Pushes out anything buffered; called at the end and periodically on live captures.
  // Fails when records could not be written (and were lost).
  virtual absl::Status Flush() = 0;
};

}  // namespace resptrace

#endif  // RESPTRACE_RECORD_H_

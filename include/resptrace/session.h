// One client connection's conversation: builds requests and replies from the two parsers'
// events and pairs each reply with its command, in order, pipelining of any depth; commands
// the server does not answer (CLIENT REPLY OFF / SKIP) take no reply; a pub/sub command takes
// every confirmation it gets, and messages are pushes (subscription.h); after MONITOR's +OK,
// the lines the server feeds the connection are pushes; commands sent after an answered QUIT
// are reported as closed. A connection joined mid-stream, or out of step after a loss, pairs
// nothing until TCP's acknowledgements prove it in step (InStepAt).
#ifndef RESPTRACE_SESSION_H_
#define RESPTRACE_SESSION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "resptrace/control_command.h"
#include "resptrace/flow_key.h"
#include "resptrace/message.h"
#include "resptrace/record.h"
#include "resptrace/reply_mode.h"
#include "resptrace/resp_parser.h"
#include "resptrace/subscription.h"
#include "resptrace/transaction.h"

namespace resptrace {

// Error replies counted by prefix (ERR, WRONGTYPE, ...). The first kMaxPrefixes distinct
// prefixes get a count each, so that the table stays small whatever a server sends.
struct ErrorCounts {
  static constexpr size_t kMaxPrefixes = 16;
  struct Entry {
    char prefix[ErrorPrefix::kMaxBytes];
    uint8_t len = 0;
    uint64_t count = 0;
    std::string_view name() const { return std::string_view(prefix, len); }
  };
  Entry by_prefix[kMaxPrefixes];
  size_t prefixes = 0;  // entries of by_prefix in use, in order of first sight
  uint64_t other = 0;   // errors with no prefix, or with one past the first kMaxPrefixes

  void Count(std::string_view prefix);
};

struct SessionCounters {
  uint64_t commands = 0;          // requests decoded (malformed ones included)
  uint64_t replies = 0;           // replies paired with a command
  uint64_t pushes = 0;            // RESP3 pushes (answer no command)
  uint64_t unanswered = 0;        // commands reported without a reply
  uint64_t orphan_replies = 0;    // replies with no command to pair (server spoke first,
                                  // joined mid-stream, out of step after a gap)
  uint64_t request_errors = 0;    // requests that are not valid RESP
  uint64_t reply_errors = 0;      // replies that are not valid RESP
  uint64_t too_deep = 0;          // replies nested past --max-depth (valid RESP, not decoded)
  uint64_t desyncs = 0;           // times a connection lost step with its replies
  uint64_t not_resp = 0;          // connections whose server's first bytes are not RESP (TLS,
                                  // another protocol): nothing of them is decoded
  uint64_t joined = 0;            // connections the capture joined mid-stream (no handshake)
  uint64_t join_skipped = 0;      // requests before a safe boundary (a joined connection's
                                  // first, or the first after requests were lost):
                                  // malformed, or of no command the table knows
  uint64_t realigned = 0;         // times a joined or desynced connection was proven in step
  uint64_t resyncs = 0;           // times a parser found a boundary after an error
  uint64_t values_cut = 0;        // values longer than --max-value-bytes (kept in part)
  uint64_t aggregates_cut = 0;    // aggregates longer than --max-elements (kept in part)
  uint64_t pending_overflows = 0; // times max_pending commands were waiting and one more came:
                                  // those waiting were reported unmatched
  uint64_t transaction_overflows = 0;  // transactions written unlinked past max_pending
  uint64_t unproven_overflows = 0;  // commands out of step reported unmatched past max_unproven
  ErrorCounts errors;             // error replies paired with a command
};

struct SessionOptions {
  MessageLimits message;
  uint32_t max_pending = 10000;  // commands awaiting a reply per connection, and held in
                                 // a transaction until its end
  // Out of step, the latest commands waiting for a proof (with as many replies held): a
  // proof pairs the latest ones, and a client that pipelines may give one only when it
  // closes. Past it, the oldest is reported unmatched at once.
  uint32_t max_unproven = 32;
};

class Session {
 public:
  Session(const SessionOptions& options, const Endpoint& client, const Endpoint& server,
          RecordSink* sink, SessionCounters* counters);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  class RequestSide;
  class ReplySide;
  // Parsers that call this session's handlers directly, with no virtual call per value.
  using RequestParser = BasicRespParser<RequestSide>;
  using ReplyParser = BasicRespParser<ReplySide>;

  // Event receivers for the request parser and the reply parser.
  RequestSide* request_handler() { return &request_side_; }
  ReplySide* reply_handler() { return &reply_side_; }

  // The request parser, whose stream position bounds where each request ends, and the reply
  // parser, which tells whether the replies so far are whole.
  void set_request_parser(const RespParserBase* parser) { request_parser_ = parser; }
  void set_reply_parser(const RespParserBase* parser) { reply_parser_ = parser; }

  // The capture starts inside the connection (no handshake seen), and commands sent before
  // it may still be waiting for replies it will show. Requests start at the first one of a
  // command the table knows (the parsers skip to a boundary); until a request is proven
  // in step (InStepAt), the connection is desynced: commands are reported unmatched and
  // replies are not paired. Call before any byte is parsed.
  void JoinMidStream();

  // `bytes` bytes of the requests (or the replies) are lost for good, as the capture showed
  // at `ts_ns`: written as a gap record, so that what was lost is in the records, in place,
  // and not only counted. Call before the parser has the gap (Feed order: the gap, then the
  // commands it leaves without a reply).
  void WriteGap(bool in_requests, uint64_t bytes, int64_t ts_ns);

  // The acknowledgement carried by the client's segment whose bytes are now being parsed
  // (none: not known).
  void SetRequestAck(std::optional<uint32_t> ack) {
    request_ack_ = ack.value_or(0);
    has_request_ack_ = ack.has_value();
  }
  // A server segment with payload or a FIN: its acknowledgement, where it starts, and the
  // sequence number after it.
  // The highest of each is kept: a segment captured out of order comes after later ones.
  // A FIN counts as a byte at the end (the peer acknowledges it as one).
  void NoteServerData(uint32_t ack, uint32_t seq, uint32_t seq_end) {
    // Joined mid-stream, a request sent before the server's first data in the capture was
    // sent with every reply in if it acknowledged where that data starts.
    if (!server_spoke_ && last_request_ack_ != seq) last_request_alone_ = false;
    if (!server_spoke_ || static_cast<int32_t>(ack - server_data_ack_) > 0) server_data_ack_ = ack;
    if (!server_spoke_ || static_cast<int32_t>(seq_end - server_data_end_) > 0) server_data_end_ = seq_end;
    server_spoke_ = true;
    requests_since_server_data_ = 0;
  }

  // The acknowledgement number carried by a server segment, and the client stream's
  // sequence number at offset 0: a reply sent before the server had a request's last byte
  // cannot be that request's reply (joined mid-stream, one the capture never had). The
  // highest acknowledgement so far is kept: bytes captured out of order reach the parser
  // behind a segment with an older acknowledgement than the one they were sent with.
  void SetReplyAck(uint32_t ack) {
    if (!has_reply_ack_ || static_cast<int32_t>(ack - reply_ack_) > 0) reply_ack_ = ack;
    has_reply_ack_ = true;
  }
  void SetRequestSeqBase(uint32_t seq_at_offset0) { request_seq_base_ = seq_at_offset0; }

  // While set, messages that complete were cut short by the end of their stream (the
  // collector completes them with missing bytes) and are marked so.
  void set_cutting_short(bool on) { cutting_short_ = on; }

  // A FIN from the client (or the server): its stream ends there.
  void NoteFin(bool from_client) {
    if (from_client && !server_fin_) client_closed_first_ = true;
    if (!from_client) server_fin_ = true;
  }

  // The connection ended: every command still waiting is reported with `why`, a request
  // the stream ended inside of included (marked cut short).
  void Close(NoReply why);

  size_t pending() const { return waiting_; }
  // False once the server's first bytes showed the connection is not RESP: its streams
  // need not be parsed.
  bool decoding() const { return !not_resp_; }
  bool desynced() const { return desynced_; }

 private:
  struct Pending {
    Message request;
    std::string_view malformed;
    bool silent = false;  // the server sends it no reply (CLIENT REPLY OFF or SKIP)
    // A gap took bytes past its name: its reply cannot be told from those of the requests
    // lost with its end, so it takes none.
    bool cut_by_gap = false;
    uint64_t index = 0;  // its place among the connection's requests
    TxCommand tx = TxCommand::kNone;
    PubSubRequest pubsub;
    ReplyControl control = ReplyControl::kNone;  // MONITOR, QUIT and RESET change the connection
  };

 public:
  // What both sides share: a message builder fed from the parser's events, which each side
  // also reads in its own way. The sides are final, so that a parser templated on a side
  // calls their handlers without a virtual call.
  class Side : public RespHandler {
   public:
    void OnResync(uint64_t, int64_t) final {
      // The first boundary of a joined stream ends a search, not an error.
      if (!searching_) ++s_.counters_->resyncs;
      searching_ = false;
    }
    void StartSearching() { searching_ = true; }

   protected:
    explicit Side(Session& s)
        : s_(s),
          builder_(s.options_.message),
          value_cut_past_(CutPast(s.options_.message.max_value_bytes)),
          elements_cut_past_(CutPast(s.options_.message.max_elements)) {}
    // Values and aggregates longer than the records keep are counted as they start, from
    // their declared lengths: the same count whether or not values are kept.
    void CountCut(RespType type, int64_t count) {
      if (count > elements_cut_past_ && type != RespType::kAttribute) {
        ++s_.counters_->aggregates_cut;
      }
    }
    void CountCut(const ScalarPiece& piece) {
      if (piece.first && piece.declared_len > value_cut_past_) ++s_.counters_->values_cut;
    }
    Session& s_;
    MessageBuilder builder_;
    bool searching_ = false;  // joined mid-stream: the parser looks for the first boundary

   private:
    // A MessageLimits bound as a length past which something is cut; 0 keeps all.
    static int64_t CutPast(uint64_t limit) {
      return limit == 0 || limit > INT64_MAX ? INT64_MAX : static_cast<int64_t>(limit);
    }
    int64_t value_cut_past_;
    int64_t elements_cut_past_;
  };

  // Builds requests from the request parser's events.
  class RequestSide final : public Side {
   public:
    explicit RequestSide(Session& s) : Side(s) {}
    void OnAggregate(RespType type, int64_t count) override {
      CountCut(type, count);
      builder_.Aggregate(type, count);
      control_.Arguments(count);
    }
    void OnScalar(const ScalarPiece& piece) override {
      CountCut(piece);
      builder_.Scalar(piece);
      control_.Piece(piece);
      if (reading_name_) ReadName(piece);
      name_done_ |= piece.last;  // the first element to end is the command's name
    }
    void OnMessageBegin(int64_t ts_ns, bool inline_command) override;
    void OnMessageEnd(int64_t ts_ns, uint64_t wire_bytes) override;
    void OnProtocolError(RespError error, int64_t ts_ns, uint64_t wire_bytes) override;
    // The stream ended inside a request: it is still a command the client sent, cut short.
    void EndInsideRequest();
    // The request being completed started where the connection was proven in step.
    bool proven_in_step() const { return proven_in_step_; }
    bool in_request() const { return in_request_; }
    // Out of step, the name of the command being completed, to look up whether or not
    // values are kept; empty when it cannot be a command's.
    std::string_view name() const { return name_ok_ ? std::string_view(name_, name_len_) : std::string_view(); }

   private:
    void ReadName(const ScalarPiece& piece);
    static constexpr size_t kMaxName = 32;  // longer than any command's name
    char name_[kMaxName];
    size_t name_len_ = 0;
    bool reading_name_ = false;
    bool name_ok_ = false;
    bool name_done_ = false;  // the request being completed has its name whole
    bool inline_ = false;  // the request being completed is an inline command
    bool in_request_ = false;  // a request is being built in its slot
    bool proven_in_step_ = false;
    ControlCommandMatcher control_;
  };

  // Builds replies from the reply parser's events.
  class ReplySide final : public Side {
   public:
    explicit ReplySide(Session& s) : Side(s) {}
    void OnAggregate(RespType type, int64_t count) override {
      CountCut(type, count);
      builder_.Aggregate(type, count);
      pubsub_.Aggregate(type, count);
    }
    void OnScalar(const ScalarPiece& piece) override {
      CountCut(piece);
      builder_.Scalar(piece);
      pubsub_.Piece(piece);
      // An error is a scalar: when it is the reply, every piece from here on is its own.
      if (IsError(reply_.root_type())) reply_.error_prefix.Add(piece);
      // A MONITOR line is a status that starts "<digits>.<digits> ["; the server's own
      // statuses (OK, PONG, RESET) start with letters. Read only while the connection monitors
      // or may (joined mid-stream), and only that far.
      if (s_.watch_monitor_lines_ && line_state_ < kLineMatched &&
          reply_.root_type() == RespType::kSimpleString) {
        ReadLineStart(piece.data);
      }
    }
    void OnMessageBegin(int64_t ts_ns, bool inline_command) override;
    void OnMessageEnd(int64_t ts_ns, uint64_t wire_bytes) override;
    void OnProtocolError(RespError error, int64_t ts_ns, uint64_t wire_bytes) override;

    PubSubReply pubsub() const { return pubsub_.reply(); }
    bool has_data_ack() const { return has_data_ack_; }
    uint32_t data_ack() const { return data_ack_; }
    bool monitor_line() const { return line_state_ == kLineMatched; }

   private:
    void ReadLineStart(std::string_view data);
    // How far the reply's start matches a MONITOR line's: seconds' digits, '.', micros'
    // digits, ' ', '['.
    enum : uint8_t { kLineStart, kLineSeconds, kLineDot, kLineMicros, kLineSpace, kLineMatched, kLineNot };
    Message reply_;
    uint8_t line_state_ = kLineStart;
    PubSubReplyMatcher pubsub_;
    bool has_ack_ = false;
    uint32_t ack_ = 0;
    // The server's highest acknowledgement with data when the reply began, if it sent any.
    bool has_data_ack_ = false;
    uint32_t data_ack_ = 0;
  };

 private:
  // The slot for the request the parser is in, its buffers kept from earlier use; grows
  // the queue when it is full.
  Pending& StartRequest();
  // The request in its slot is complete: it joins the queue (or is reported at once).
  // `control` is what it does to the reply mode, if it is complete and well formed.
  void OnRequest(ReplyControl control);
  void OnReply(Message& reply, bool has_ack, uint32_t ack);
  Record NewRecord(RecordKind kind) const;  // of this connection, its endpoints set
  void WritePush(Message& reply);  // server data that answers no command
  // What an answered MONITOR, QUIT or RESET does to the connection.
  void Follow(ReplyControl control);
  // The acknowledgements' part of a proof at the request at `request_offset` of the
  // client's stream: the client had every byte the server sent, and no more, and the
  // server had every byte before the request when it last sent.
  bool InStepAt(uint64_t request_offset) const;
  // The client had every byte the server sent, as far as the capture shows, when it sent
  // the bytes now parsed.
  bool ClientHadAllReplies() const;
  // The last request was sent alone and answered alone before the client's next bytes
  // (at `next_offset`): one exchange of a client that waits for each reply.
  bool LastRequestAnsweredAlone(uint64_t next_offset) const;
  // The connection does not speak RESP: nothing of it is decoded or reported.
  void StopDecoding();
  // A desynced connection is proven in step at the request being completed: the commands
  // waiting are paired with the last replies held, and pairing starts again.
  void ProveInStep();
  // How many replies a command gets (a blocking one's may come late), when that is known,
  // so that counting replies can pair it; 0 otherwise.
  uint32_t RepliesExpected(const Pending& p, bool silent) const;
  // A waiting command's replies, as counted while out of step.
  static uint32_t Expected(const Pending& p) {
    return IsConfirmation(p.pubsub.kind) ? p.pubsub.channels : 1;
  }
  // Out of step, the oldest command waiting for a proof is reported unmatched, and the
  // replies held for it let go.
  void ExpireOldestUnproven();
  // The first of the waiting commands from which on each fits the held replies counted
  // back from the last (waiting_ when the last does not): what it expects, kind for kind,
  // each begun after the server had it.
  size_t FittingFrom() const;
  // True when a reply begun with acknowledgement `ack` was sent before the server had all
  // of `p`'s request.
  bool SentBefore(uint32_t ack, const Pending& p) const;
  // Out of step, a reply is kept until a proof point, up to as many as the waiting
  // commands expect.
  void HoldReply(Message& reply, PubSubReply seen);
  size_t HeldIndex(size_t i) const { return (held_head_ + i) & (held_.size() - 1); }
  Message& HeldReply(size_t i) { return held_[HeldIndex(i)]; }
  void PopHeld();
  // The replies held are orphans, and the waiting commands are reported with `why`.
  void DropHeld(NoReply why);
  // A request of a command the table knows: the first safe boundary of a joined stream.
  static bool StartsSafely(std::string_view name);
  void WatchMonitorLines() { watch_monitor_lines_ = monitoring_ || (joined_ && desynced_); }
  void OnRequestLost();                // requests went missing: later replies are out of step
  void OnRepliesLost(NoReply why);     // replies went missing or unreadable
  // A reply came after every command sent before a request-side gap had its own: out of
  // step, the commands sent after the gap wait to be proven in step.
  void AwaitProofAfterRequestGap();
  // Out of step: every waiting command is reported with `why`, and from now on commands
  // wait and replies are held, unpaired, until a request proves the connection in step.
  void Desync(NoReply why);
  // Writes the command's record, unless its transaction holds it until it ends.
  void Emit(Pending& p, Message* reply, NoReply why);
  // Emit()'s part for a record that may be a transaction's; true when the transaction holds it.
  // Out of line, so that Emit()'s common path (no transaction) stays short.
  [[gnu::noinline]] bool EmitInTransaction(Pending& p, Message* reply, NoReply why, TxOutcome* tx);
  // Inlined into Emit(), which runs once per command.
  [[gnu::always_inline]] inline void Write(Message& request, std::string_view malformed,
                                           Message* reply, NoReply why, TxOutcome tx,
                                           ValueNode* exec_result,
                                           absl::Span<Message* const> replies = {});
  // Writes the records a transaction held, the transaction having ended.
  void WriteHeld();
  // Fills the record's command, subcommand and key arguments from the command table.
  void LookUpCommand(const Message& request, Record& r);
  // Reports the oldest waiting command without a reply: `why`, unless the server was never
  // to answer it.
  void EmitOldestUnanswered(NoReply why);
  Pending& Waiting(size_t i) { return queue_[(head_ + i) & (queue_.size() - 1)]; }
  void PopFront();
  uint64_t RequestEndLowerBound() const;

  SessionOptions options_;
  Endpoint client_;
  Endpoint server_;
  std::string client_name_;
  std::string server_name_;
  RecordSink* sink_;
  SessionCounters* counters_;
  RequestSide request_side_;
  ReplySide reply_side_;
  // The commands awaiting a reply, oldest first: Waiting(0) to Waiting(waiting_ - 1), in a
  // ring of a power of two slots that only grows. A silent command waits only for the
  // commands before it, to be reported in request order: Waiting(0) is never silent. The slot after them holds the request
  // being parsed. Slots are reused in place, buffers and all: no allocation per command.
  std::vector<Pending> queue_;
  size_t head_ = 0;
  size_t waiting_ = 0;
  bool desynced_ = false;
  bool cutting_short_ = false;
  ReplyMode reply_mode_;
  Transaction transaction_;
  Subscriptions subscriptions_;
  bool monitoring_ = false;  // MONITOR was answered +OK: the server feeds the connection lines
  // Status replies are looked at for MONITOR lines: while monitoring, or while a joined
  // connection is out of step (it may have been monitoring before the capture began).
  bool watch_monitor_lines_ = false;
  bool server_answered_ = false;  // a whole reply (or push) came from the server
  bool not_resp_ = false;         // the connection is not RESP (StopDecoding)
  bool joined_ = false;      // the capture joined the connection mid-stream
  // Requests start at a safe boundary, a request of a known command, not yet found: the
  // connection was joined mid-stream, or requests were lost in a gap.
  bool joining_ = false;
  bool quit_ = false;        // QUIT was answered: the server closes, answering nothing more
  bool pubsub_queued_ = false;  // the open transaction queued a pub/sub command
  bool multi_sent_ = false;     // a MULTI was sent, and no EXEC, DISCARD or RESET since
  bool monitor_sent_ = false;   // a MONITOR was sent (and no RESET since)
  // Commands before this many pending ones are still in step after a request-side gap.
  size_t in_step_pending_ = SIZE_MAX;
  uint64_t requests_ = 0;         // requests completed, the index of the next one
  uint64_t after_gap_index_ = 0;  // the index of the first request after the last gap
  uint32_t reply_ack_ = 0;
  bool has_reply_ack_ = false;
  uint32_t request_seq_base_ = 0;
  const RespParserBase* request_parser_ = nullptr;
  const RespParserBase* reply_parser_ = nullptr;
  // What InStepAt goes by: the client's acknowledgement when it sent the request being
  // parsed, and the server's data: where it ends, and its acknowledgement (how much of the
  // client's stream the server had when it last sent).
  uint32_t request_ack_ = 0;
  bool has_request_ack_ = false;
  uint32_t server_data_ack_ = 0;
  uint32_t server_data_end_ = 0;
  bool server_spoke_ = false;
  // A client that pipelines can be any number of replies behind, and the server's
  // acknowledgement says what its kernel had, not what it has answered: a proof needs
  // the client to have waited for each reply, exchange after exchange.
  uint64_t replies_ = 0;                  // replies to commands (not pushes) parsed
  uint64_t replies_at_last_request_ = 0;  // when the last request began
  uint32_t last_request_expected_ = 0;    // replies the last request gets; 0 if not known
  bool last_request_alone_ = false;  // sent with every reply in, no other request since
  uint32_t last_request_ack_ = 0;       // the client's acknowledgement when it sent it
  uint64_t requests_end_offset_ = 0;    // where the last request ended
  uint32_t requests_since_server_data_ = 0;
  uint32_t lockstep_ = 0;  // exchanges in a row, since the last loss, that were so
  bool server_fin_ = false;
  bool client_closed_first_ = false;  // its FIN came before the server's
  // Exchanges in a row a proof needs. One can pass by chance: a client with two commands
  // in flight, the server reading one while the next arrives, looks the same. The end of
  // the client's stream needs one: no exchange can come after it.
  static constexpr uint32_t kLockstepProof = 2;
  static constexpr uint32_t kLockstepProofAtEnd = 1;
  // Out of step: the replies since the waiting commands were sent, oldest first, at most
  // as many as they expect, in a ring of a power of two slots that only grows.
  std::vector<Message> held_;
  struct HeldInfo {
    PubSubReply seen;  // what the reply is to pub/sub
    bool has_ack = false;
    uint32_t ack = 0;  // the server's acknowledgement where the reply began
  };
  std::vector<HeldInfo> held_info_;
  size_t held_head_ = 0;
  size_t held_replies_ = 0;
  size_t held_expected_ = 0;  // replies the waiting commands expect
  // The command being emitted: its arguments, and the indexes of its keys among them.
  // Reused from one command to the next, so that looking commands up allocates nothing.
  std::vector<std::string_view> arg_views_;
  std::vector<uint32_t> key_args_;
};

extern template class BasicRespParser<Session::RequestSide>;
extern template class BasicRespParser<Session::ReplySide>;

}  // namespace resptrace

#endif  // RESPTRACE_SESSION_H_

// A decoded RESP message (one request or one reply), stored flat so that building and
// recycling one allocates nothing once its buffers have grown.
#ifndef RESPTRACE_MESSAGE_H_
#define RESPTRACE_MESSAGE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "resptrace/resp_parser.h"
#include "resptrace/resp_type.h"

namespace resptrace {

// One value in preorder. An aggregate's children follow it; `subtree` lets a reader skip
// them. RESP3 attributes are metadata about a value, not part of it, and are not kept.
struct ValueNode {
  RespType type = RespType::kNull;
  bool truncated = false;  // scalar: only the first bytes are kept; aggregate: elements cut
  bool secret = false;     // a password or the like: printed as redacted, never as is
  uint32_t subtree = 1;    // nodes in this subtree, this one included
  uint32_t children = 0;   // aggregate: direct children kept
  uint64_t elided = 0;     // aggregate: declared children not kept (past max_elements)
  uint64_t full_len = 0;   // scalar: the value's length on the wire
  uint64_t missing = 0;    // scalar: bytes lost to a capture gap
  uint32_t data_off = 0;   // scalar: kept bytes in Message::bytes
  uint32_t data_len = 0;
};

// An error reply's prefix, the class of error it names (ERR, WRONGTYPE, MOVED, ...): its
// first word when that is all upper-case letters. Read from the value's bytes as they
// arrive, so that it is known whether or not the value is kept, and whatever its cut.
class ErrorPrefix {
 public:
  // Redis counts errors by a prefix of at most 32 bytes too (INFO errorstats).
  static constexpr size_t kMaxBytes = 32;

  void Clear() {
    len_ = 0;
    state_ = State::kReading;
  }
  // The next piece of the error's value.
  void Add(const ScalarPiece& piece);
  // Empty when the value has no such prefix, or is not an error.
  std::string_view view() const {
    return state_ == State::kFound ? std::string_view(bytes_, len_) : std::string_view();
  }

 private:
  enum class State : uint8_t { kReading, kFound, kNone };
  char bytes_[kMaxBytes];
  uint8_t len_ = 0;
  State state_ = State::kReading;
};

struct MessageLimits {
  uint64_t max_value_bytes = 512;  // bytes kept per scalar; 0 = all
  uint64_t max_elements = 1000;    // children kept per aggregate; 0 = all
  uint32_t max_nodes = 1 << 20;    // nodes kept per message, whatever the above say
  // False when nothing will print the values: only the top-level value's type is kept
  // (root_type()), no node and no byte, so that values cost next to nothing.
  bool keep_values = true;
};

class Message {
 public:
  void Clear();

  const std::vector<ValueNode>& nodes() const { return nodes_; }
  std::string_view data(const ValueNode& n) const {
    return std::string_view(bytes_).substr(n.data_off, n.data_len);
  }
  size_t kept_bytes() const { return bytes_.size(); }
  // The top-level value's type, whether or not its nodes were kept.
  RespType root_type() const { return root_type_; }
  const ValueNode* root() const { return nodes_.empty() ? nullptr : nodes_.data(); }
  ValueNode* mutable_root() { return nodes_.empty() ? nullptr : nodes_.data(); }
  // Children of an aggregate are `n + 1`, then each next_sibling() in turn.
  static const ValueNode* first_child(const ValueNode* n) { return n + 1; }
  static const ValueNode* next_sibling(const ValueNode* n) { return n + n->subtree; }

  int64_t first_ts_ns = 0;   // capture time of the first byte
  int64_t last_ts_ns = 0;    // capture time of the last byte
  uint64_t wire_bytes = 0;   // size on the wire
  uint64_t end_offset = 0;   // a lower bound of the stream offset just past the message
  bool inline_command = false;
  bool cut_short = false;  // the stream ended inside it; its missing bytes were never seen
  ErrorPrefix error_prefix;  // filled by whoever builds replies

 private:
  friend class MessageBuilder;
  RespType root_type_ = RespType::kNull;
  bool has_root_ = false;
  std::vector<ValueNode> nodes_;
  std::string bytes_;
};

// Builds Messages from parser events, keeping at most MessageLimits of each.
class MessageBuilder {
 public:
  explicit MessageBuilder(const MessageLimits& limits) : limits_(limits) {}

  // Starts filling `target` (cleared first).
  void Begin(Message* target, int64_t ts_ns, bool inline_command);
  void Aggregate(RespType type, int64_t count) {
    if (!Bare(type)) KeepAggregate(type, count);
  }
  void Scalar(const ScalarPiece& piece) {
    if (piece.first ? !Bare(piece.type) : (limits_.keep_values || tracking_)) KeepScalar(piece);
  }
  // True once the top-level value is complete.
  bool complete() const { return done_; }
  // The stream ended inside the value: closes what is open so that the message reads as
  // the part that arrived, marked cut short.
  void CutShort();

 private:
  struct Open {
    uint32_t node;        // index in nodes_, or kSkipped
    int64_t remaining;    // elements still to come
    bool attribute;
  };
  static constexpr uint32_t kSkipped = UINT32_MAX;
  static constexpr uint64_t kMinNameBytes = 64;
  // Adds a node for a value starting now, or returns kSkipped when limits leave it out.
  uint32_t StartValue(RespType type);
  // A value (scalar or aggregate) just ended; closes the aggregates it completes.
  void ValueDone(bool was_attribute);
  void AppendKept(ValueNode& n, std::string_view data);
  // keep_values == false: true when the value starting now needs no more than noting the
  // top-level type. A top-level attribute hides where the real value starts, so such a
  // message is tracked in full (tracking_) instead; that is rare.
  bool Bare(RespType type) {
    if (limits_.keep_values || tracking_) return false;
    if (msg_->has_root_) return true;
    if (type == RespType::kAttribute) {
      tracking_ = true;
      return false;
    }
    msg_->root_type_ = type;
    msg_->has_root_ = true;
    return true;
  }
  void KeepAggregate(RespType type, int64_t count);
  void KeepScalar(const ScalarPiece& piece);

  MessageLimits limits_;
  Message* msg_ = nullptr;
  std::vector<Open> open_;
  bool done_ = false;
  bool tracking_ = false;
  uint32_t scalar_node_ = kSkipped;  // node of the scalar whose pieces are arriving
};

}  // namespace resptrace

#endif  // RESPTRACE_MESSAGE_H_

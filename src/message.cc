#include "resptrace/message.h"

#include <algorithm>

namespace resptrace {

void Message::Clear() {
  nodes_.clear();
  bytes_.clear();
  root_type_ = RespType::kNull;
  has_root_ = false;
  first_ts_ns = last_ts_ns = 0;
  wire_bytes = end_offset = 0;
  inline_command = false;
  cut_short = false;
  error_prefix.Clear();
}

void ErrorPrefix::Add(const ScalarPiece& piece) {
  if (state_ != State::kReading) return;
  if (piece.missing != 0) {
    state_ = State::kNone;  // bytes of the word (or the space after it) were lost
    return;
  }
  for (const char c : piece.data) {
    if (c == ' ') {
      state_ = len_ != 0 ? State::kFound : State::kNone;
      return;
    }
    if (c < 'A' || c > 'Z' || len_ == kMaxBytes) {
      state_ = State::kNone;
      return;
    }
    bytes_[len_++] = c;
  }
  if (piece.last) state_ = len_ != 0 ? State::kFound : State::kNone;  // a one-word error
}

void MessageBuilder::Begin(Message* target, int64_t ts_ns, bool inline_command) {
  msg_ = target;
  msg_->Clear();
  msg_->first_ts_ns = ts_ns;
  msg_->inline_command = inline_command;
  open_.clear();
  done_ = false;
  tracking_ = false;
  scalar_node_ = kSkipped;
}

uint32_t MessageBuilder::StartValue(RespType type) {
  auto& nodes = msg_->nodes_;
  if (!open_.empty()) {
    Open& parent = open_.back();
    // Attributes describe a value; they are not kept. Below a value that is not kept,
    // nothing is.
    if (parent.node == kSkipped || type == RespType::kAttribute) return kSkipped;
    ValueNode& p = nodes[parent.node];
    if ((limits_.max_elements != 0 && p.children >= limits_.max_elements) ||
        nodes.size() >= limits_.max_nodes) {
      ++p.elided;
      p.truncated = true;
      return kSkipped;
    }
    ++p.children;
  } else if (type == RespType::kAttribute) {
    return kSkipped;
  } else {
    msg_->root_type_ = type;
    msg_->has_root_ = true;
  }
  ValueNode n;
  n.type = type;
  nodes.push_back(n);
  return static_cast<uint32_t>(nodes.size() - 1);
}

void MessageBuilder::KeepAggregate(RespType type, int64_t count) {
  const uint32_t node = StartValue(type);
  const bool attribute = type == RespType::kAttribute;
  if (count <= 0) {
    ValueDone(attribute);
    return;
  }
  open_.push_back(Open{node, count, attribute});
}

void MessageBuilder::AppendKept(ValueNode& n, std::string_view data) {
  if (n.missing != 0) return;  // keep only the bytes before a gap: what follows is no prefix
  uint64_t room = data.size();
  if (limits_.max_value_bytes != 0) {
    uint64_t cap = limits_.max_value_bytes;
    // A command's name is what a reader looks for first: keep it whole if it is any sane
    // length, whatever the cut for values.
    if (&n == msg_->nodes_.data() + 1 && msg_->nodes_[0].type == RespType::kArray) {
      cap = std::max<uint64_t>(cap, kMinNameBytes);
    }
    room = std::min<uint64_t>(room, cap - std::min<uint64_t>(cap, n.data_len));
  }
  msg_->bytes_.append(data.data(), room);
  n.data_len += static_cast<uint32_t>(room);
  if (room < data.size()) n.truncated = true;
}

void MessageBuilder::KeepScalar(const ScalarPiece& piece) {
  if (piece.first) {
    scalar_node_ = StartValue(piece.type);
    if (scalar_node_ != kSkipped) {
      ValueNode& n = msg_->nodes_[scalar_node_];
      n.data_off = static_cast<uint32_t>(msg_->bytes_.size());
      n.full_len = piece.declared_len >= 0 ? static_cast<uint64_t>(piece.declared_len)
                                           : piece.data.size();
    }
  }
  if (scalar_node_ != kSkipped) {
    ValueNode& n = msg_->nodes_[scalar_node_];
    AppendKept(n, piece.data);
    if (piece.missing != 0) {
      n.missing += piece.missing;
      n.truncated = true;
    }
    // A line the parser held in part (RespLimits::max_kept_line) is shorter than it was.
    if (piece.last && n.data_len + n.missing < n.full_len) n.truncated = true;
  }
  if (piece.last) {
    scalar_node_ = kSkipped;
    ValueDone(false);
  }
}

void MessageBuilder::CutShort() {
  auto& nodes = msg_->nodes_;
  if (scalar_node_ != kSkipped) {
    ValueNode& n = nodes[scalar_node_];
    if (n.data_len + n.missing < n.full_len) n.truncated = true;
  }
  for (const Open& o : open_) {
    if (o.node != kSkipped) nodes[o.node].subtree = static_cast<uint32_t>(nodes.size() - o.node);
  }
  open_.clear();
  scalar_node_ = kSkipped;
  msg_->cut_short = true;
}

void MessageBuilder::ValueDone(bool was_attribute) {
  auto& nodes = msg_->nodes_;
  while (!open_.empty()) {
    if (was_attribute) return;  // an attribute does not count as an element of its parent
    Open& parent = open_.back();
    if (--parent.remaining > 0) return;
    if (parent.node != kSkipped) {
      nodes[parent.node].subtree = static_cast<uint32_t>(nodes.size() - parent.node);
    }
    was_attribute = parent.attribute;
    open_.pop_back();
  }
  // A top-level attribute precedes the real top-level value.
  if (!was_attribute) done_ = true;
}

}  // namespace resptrace

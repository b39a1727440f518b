#include "resptrace/redaction.h"

#include <string_view>
#include <vector>

namespace resptrace {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

// The direct children of an aggregate node, in order.
std::vector<ValueNode*> Children(ValueNode* n) {
  std::vector<ValueNode*> out;
  ValueNode* c = n + 1;
  for (uint32_t i = 0; i < n->children; ++i, c += c->subtree) out.push_back(c);
  return out;
}

bool IsSecretParameter(std::string_view name) {
  return EqualsIgnoreCase(name, "requirepass") || EqualsIgnoreCase(name, "masterauth") ||
         EqualsIgnoreCase(name, "masteruser");
}

void MarkAll(ValueNode* n) {
  for (uint32_t i = 0; i < n->subtree; ++i) n[i].secret = true;
}

void MarkRequest(const Message& m, const std::vector<ValueNode*>& a) {
  // a[0] is the command name; a[i] its i-th argument.
  const std::string_view cmd = m.data(*a[0]);
  auto arg = [&](size_t i) { return m.data(*a[i]); };
  auto mark = [&](size_t i) {
    if (i < a.size()) a[i]->secret = true;
  };
  if (EqualsIgnoreCase(cmd, "AUTH")) {
    if (a.size() == 3) {
      mark(2);  // AUTH username password: the name is no secret
    } else {
      for (size_t i = 1; i < a.size(); ++i) mark(i);
    }
  } else if (EqualsIgnoreCase(cmd, "HELLO")) {
    for (size_t i = 2; i < a.size(); ++i) {
      if (EqualsIgnoreCase(arg(i), "AUTH")) {
        mark(i + 2);
        i += 2;
      } else if (EqualsIgnoreCase(arg(i), "SETNAME")) {
        ++i;
      }
    }
  } else if (EqualsIgnoreCase(cmd, "MIGRATE")) {
    for (size_t i = 1; i < a.size(); ++i) {
      if (EqualsIgnoreCase(arg(i), "AUTH")) {
        mark(i + 1);
        ++i;
      } else if (EqualsIgnoreCase(arg(i), "AUTH2")) {
        mark(i + 2);
        i += 2;
      } else if (EqualsIgnoreCase(arg(i), "KEYS")) {
        break;
      }
    }
  } else if (EqualsIgnoreCase(cmd, "CONFIG") && a.size() > 1 && EqualsIgnoreCase(arg(1), "SET")) {
    for (size_t i = 2; i + 1 < a.size(); i += 2) {
      if (IsSecretParameter(arg(i))) mark(i + 1);
    }
  } else if (EqualsIgnoreCase(cmd, "ACL") && a.size() > 1 && EqualsIgnoreCase(arg(1), "SETUSER")) {
    for (size_t i = 3; i < a.size(); ++i) {
      const std::string_view rule = arg(i);
      if (!rule.empty() && (rule[0] == '>' || rule[0] == '<' || rule[0] == '#' || rule[0] == '!')) {
        mark(i);
      }
    }
  }
}

// Name/value pairs, as a map or as a flat array (RESP2).
void MarkPairs(const Message& m, ValueNode* n, bool (*secret_name)(std::string_view)) {
  if (n->type != RespType::kMap && n->type != RespType::kArray) return;
  const std::vector<ValueNode*> c = Children(n);
  for (size_t i = 0; i + 1 < c.size(); i += 2) {
    if (IsAggregate(c[i]->type)) continue;
    if (secret_name(m.data(*c[i]))) MarkAll(c[i + 1]);
  }
}

bool MayCarrySecrets(std::string_view cmd) {
  switch (cmd.size()) {
    case 3: return EqualsIgnoreCase(cmd, "ACL");
    case 4: return EqualsIgnoreCase(cmd, "AUTH");
    case 5: return EqualsIgnoreCase(cmd, "HELLO");
    case 6: return EqualsIgnoreCase(cmd, "CONFIG");
    case 7: return EqualsIgnoreCase(cmd, "MIGRATE");
    default: return false;
  }
}

}  // namespace

void VisibleArgs::Reset(const Record& r) {
  const ValueNode* root = r.request != nullptr ? r.request->root() : nullptr;
  const uint32_t args = root != nullptr && root->children > 0 ? root->children - 1 : 0;
  shown_.assign(args, false);
  if (r.has_subcommand && args > 0) shown_[0] = true;
  for (uint32_t i : r.key_args) {
    if (i < args) shown_[i] = true;
  }
}

bool IsHiddenValue(const ValueNode& n, std::string_view data) {
  if (IsAggregate(n.type) || n.type == RespType::kNull) return false;
  const bool status = n.type == RespType::kSimpleString && !n.truncated && n.missing == 0 &&
                      (data == "OK" || data == "QUEUED" || data == "PONG");
  return !status;
}

std::string_view ErrorCode(const ValueNode& n, std::string_view data) {
  // Redis counts errors by the same word, of at most 32 bytes (INFO errorstats).
  constexpr size_t kMaxBytes = 32;
  size_t i = 0;
  while (i < data.size() && i <= kMaxBytes && data[i] >= 'A' && data[i] <= 'Z') ++i;
  if (i == 0 || i > kMaxBytes) return {};
  if (i < data.size()) return data[i] == ' ' ? data.substr(0, i) : std::string_view();
  // The kept bytes end here: a word only if the value does too.
  return n.truncated || n.missing != 0 ? std::string_view() : data;
}

void MarkSecrets(Message& request, Message* reply, ValueNode* value) {
  ValueNode* root = request.mutable_root();
  if (root == nullptr || root->type != RespType::kArray || root->children == 0) return;
  // Called for every command: most are none of these, and cost one length check.
  if (!MayCarrySecrets(request.data(*(root + 1)))) return;
  const std::vector<ValueNode*> a = Children(root);
  MarkRequest(request, a);
  ValueNode* reply_root =
      reply == nullptr ? nullptr : value != nullptr ? value : reply->mutable_root();
  if (reply_root == nullptr || a.size() < 2) return;
  const std::string_view cmd = request.data(*a[0]);
  const std::string_view sub = request.data(*a[1]);
  if (EqualsIgnoreCase(cmd, "CONFIG") && EqualsIgnoreCase(sub, "GET")) {
    MarkPairs(*reply, reply_root, IsSecretParameter);
  } else if (EqualsIgnoreCase(cmd, "ACL") && EqualsIgnoreCase(sub, "GETUSER")) {
    MarkPairs(*reply, reply_root, [](std::string_view name) {
      return EqualsIgnoreCase(name, "passwords");
    });
  }
}

}  // namespace resptrace

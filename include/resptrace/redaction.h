// Secrets never reach any output: passwords and password hashes in commands (AUTH, HELLO ...
// AUTH, MIGRATE ... AUTH/AUTH2, CONFIG SET requirepass|masterauth|masteruser, ACL SETUSER
// >pass <pass #hash !hash) and in replies (CONFIG GET of those, ACL GETUSER's passwords).
// With --redact-values, values are hidden too: what stays is decided here, the sinks print it.
#ifndef RESPTRACE_REDACTION_H_
#define RESPTRACE_REDACTION_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "resptrace/message.h"
#include "resptrace/record.h"

namespace resptrace {

// Marks the secret values of `request`, and of `reply` when it answers that request and is
// not null, so that every sink prints them as redacted. `value`, when not null, is the node of
// `reply` that answers the request (a queued command's element of EXEC's array), else its root.
void MarkSecrets(Message& request, Message* reply, ValueNode* value = nullptr);

// What the sinks print of values. Secrets are redacted either way, without their length.
enum class Redaction : uint8_t {
  kSecrets,  // the default: every value but secrets is printed
  kValues,   // --redact-values: also every argument but the subcommand's name and the keys,
             // and every value in replies but nulls and status replies; each with its length
};

// --redact-values: which arguments of a command record stay visible (docs/records.md).
// Reused from record to record, so that it allocates only while it grows.
class VisibleArgs {
 public:
  // Takes `r`'s arguments: its subcommand's name and its keys (none for an unknown command).
  void Reset(const Record& r);
  // Argument `i` (0 is the first after the command name) is shown.
  bool operator[](uint32_t i) const { return i < shown_.size() && shown_[i]; }

 private:
  std::vector<bool> shown_;
};

// --redact-values: whether a value (`data` its kept bytes) that is no visible argument is
// hidden: every scalar but nulls, which hold no value, and the simple strings OK, QUEUED and
// PONG, fixed status replies that carry no data (a request's arguments are bulk strings, so
// each is). An aggregate is not: its elements are, in turn.
bool IsHiddenValue(const ValueNode& n, std::string_view data);

// --redact-values: the part of an error's text that stays visible, its first word when that
// is all upper-case letters (ERR, WRONGTYPE, MOVED, ...), at most 32 of them; empty when the
// text has none, or when its kept bytes (`data`, cut or not) end inside the first word.
std::string_view ErrorCode(const ValueNode& n, std::string_view data);

}  // namespace resptrace

#endif  // RESPTRACE_REDACTION_H_

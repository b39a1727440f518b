// Secrets never reach any output: passwords and password hashes in commands (AUTH, HELLO ...
// AUTH, MIGRATE ... AUTH/AUTH2, CONFIG SET requirepass|masterauth|masteruser, ACL SETUSER
// >pass <pass #hash !hash) and in replies (CONFIG GET of those, ACL GETUSER's passwords).
#ifndef RESPTRACE_REDACTION_H_
#define RESPTRACE_REDACTION_H_

#include "resptrace/message.h"

namespace resptrace {

// Marks the secret values of `request`, and of `reply` when it answers that request and is
// not null, so that every sink prints them as redacted.
void MarkSecrets(Message& request, Message* reply);

}  // namespace resptrace

#endif  // RESPTRACE_REDACTION_H_

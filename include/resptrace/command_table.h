// What Redis says of its commands: names, subcommands, arity, flags and where the keys are,
// compiled in from a real server's COMMAND INFO (scripts/gen-commands writes
// src/command_table_data.inc).
#ifndef RESPTRACE_COMMAND_TABLE_H_
#define RESPTRACE_COMMAND_TABLE_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/types/span.h"

namespace resptrace {

// COMMAND INFO's command flags, one bit each.
enum CommandFlag : uint32_t {
  kCmdWrite = 1u << 0,
  kCmdReadonly = 1u << 1,
  kCmdDenyoom = 1u << 2,
  kCmdAdmin = 1u << 3,
  kCmdPubsub = 1u << 4,
  kCmdNoscript = 1u << 5,
  kCmdBlocking = 1u << 6,
  kCmdLoading = 1u << 7,
  kCmdStale = 1u << 8,
  kCmdSkipMonitor = 1u << 9,
  kCmdSkipSlowlog = 1u << 10,
  kCmdAsking = 1u << 11,
  kCmdFast = 1u << 12,
  kCmdNoAuth = 1u << 13,
  kCmdNoAsyncLoading = 1u << 14,
  kCmdNoMandatoryKeys = 1u << 15,
  kCmdNoMulti = 1u << 16,
  kCmdMovablekeys = 1u << 17,
  kCmdAllowBusy = 1u << 18,
};

// A key spec's first half: where its keys start. Positions count the command name as 0,
// as the server's do.
struct BeginSearch {
  enum Kind : uint8_t {
    kNone,     // no spec (the end of a command's specs)
    kIndex,    // at `index`
    kKeyword,  // after `keyword`, searched from `index` (from the end when negative)
    kUnknown,  // the spec cannot say (SORT's STORE); the lookup knows such commands itself
  };
  Kind kind = kNone;
  int32_t index = 0;
  std::string_view keyword;
};

// A key spec's second half: which arguments from there on are keys.
struct FindKeys {
  enum Kind : uint8_t {
    kUnknown,
    kRange,   // a: last key (relative to the first; negative: from the end), b: step,
              // c: limit (with last key -1: keys take 1/c of what is left)
    kKeynum,  // a: index of the key count (relative to the first), b: first key after
              // it (relative to the first), c: step
  };
  Kind kind = kUnknown;
  int32_t a = 0;
  int32_t b = 0;
  int32_t c = 0;
};

struct KeySpec {
  BeginSearch begin;
  FindKeys find;
  bool not_key = false;  // hashed like a key but not one (SPUBLISH's shard channel)
};

inline constexpr int kMaxKeySpecs = 3;

struct CommandInfo {
  std::string_view name;  // upper case; a subcommand is "CONTAINER|SUB" ("CONFIG|GET")
  int32_t arity = 0;      // arguments with the name; negative: at least -arity
  uint32_t flags = 0;     // CommandFlag bits
  bool has_subcommands = false;
  KeySpec key_specs[kMaxKeySpecs] = {};  // the first with begin kNone ends them
};

struct CommandMatch {
  // The command, or for a command with subcommands the subcommand args[0] names; null when
  // the table knows neither the command nor (with subcommand set) that subcommand.
  const CommandInfo* info = nullptr;
  bool subcommand = false;  // args[0] names a subcommand of a command that has them
};

// Looks a request up, names compared without regard to case. `args` are the request's
// elements after the command name.
CommandMatch MatchCommand(std::string_view name, absl::Span<const std::string_view> args);

// Appends to `key_args` the indexes into `args` of the request's key arguments, by the
// command's key specs (and, for SORT and MIGRATE, the rules the server applies in code).
// `wire_args` is how many arguments the request declared; only the first args.size() were
// kept, and keys past them are left out. Arguments that contradict the specs (a key count
// that is negative, not a number, or past the end) give no keys for that spec.
void FindKeyArgs(const CommandInfo& info, absl::Span<const std::string_view> args, size_t wire_args,
                 std::vector<uint32_t>* key_args);

}  // namespace resptrace

#endif  // RESPTRACE_COMMAND_TABLE_H_

#include "resptrace/command_table.h"

#include <algorithm>
#include <array>
#include <iterator>

namespace resptrace {
namespace {

// The vocabulary of src/command_table_data.inc.
constexpr BeginSearch BeginIndex(int32_t index) { return {BeginSearch::kIndex, index, {}}; }
constexpr BeginSearch BeginKeyword(std::string_view keyword, int32_t start_from) {
  return {BeginSearch::kKeyword, start_from, keyword};
}
constexpr BeginSearch BeginUnknown() { return {BeginSearch::kUnknown, 0, {}}; }
constexpr FindKeys Range(int32_t last_key, int32_t step, int32_t limit) {
  return {FindKeys::kRange, last_key, step, limit};
}
constexpr FindKeys Keynum(int32_t count_index, int32_t first_key, int32_t step) {
  return {FindKeys::kKeynum, count_index, first_key, step};
}
constexpr FindKeys FindUnknown() { return {FindKeys::kUnknown, 0, 0, 0}; }

constexpr CommandInfo kCommands[] = {
#include "command_table_data.inc"
};

constexpr bool ByName(const CommandInfo& a, const CommandInfo& b) { return a.name < b.name; }
static_assert(std::is_sorted(std::begin(kCommands), std::end(kCommands), ByName),
              "FindExact's binary search needs the table sorted by name");

// Key loops advance by the step: a step below 1 would never end.
constexpr bool StepsArePositive() {
  for (const CommandInfo& c : kCommands) {
    for (const KeySpec& s : c.key_specs) {
      if ((s.find.kind == FindKeys::kRange && s.find.b < 1) ||
          (s.find.kind == FindKeys::kKeynum && s.find.c < 1)) {
        return false;
      }
    }
  }
  return true;
}
static_assert(StepsArePositive());

constexpr size_t LongestName() {
  size_t longest = 0;
  for (const CommandInfo& c : kCommands) longest = std::max(longest, c.name.size());
  return longest;
}
constexpr size_t kLongestName = LongestName();

constexpr const CommandInfo* FindExact(std::string_view upper_name) {
  const CommandInfo* it = std::lower_bound(std::begin(kCommands), std::end(kCommands),
                                           CommandInfo{upper_name}, ByName);
  return it != std::end(kCommands) && it->name == upper_name ? it : nullptr;
}

// Every command is looked up, so the run-time lookup is one hash of the upper-cased name
// and a probe or two in an open-addressing index built at compile time (a binary search
// took about a tenth of the JSON output's time).
constexpr uint32_t kHashSeed = 2166136261u;  // FNV-1a
constexpr uint32_t HashStep(uint32_t h, char c) { return (h ^ static_cast<uint8_t>(c)) * 16777619u; }
constexpr uint32_t Hash(std::string_view s) {
  uint32_t h = kHashSeed;
  for (char c : s) h = HashStep(h, c);
  return h;
}

constexpr size_t kSlotCount = 1024;  // a power of two, at least twice the table: short probes
static_assert(kSlotCount >= 2 * std::size(kCommands));

// Slot -> 1 + index in kCommands; 0 for an empty slot.
constexpr std::array<uint16_t, kSlotCount> BuildSlots() {
  std::array<uint16_t, kSlotCount> slots{};
  for (size_t i = 0; i < std::size(kCommands); ++i) {
    size_t s = Hash(kCommands[i].name) & (kSlotCount - 1);
    while (slots[s] != 0) s = (s + 1) & (kSlotCount - 1);
    slots[s] = static_cast<uint16_t>(i + 1);
  }
  return slots;
}
constexpr std::array<uint16_t, kSlotCount> kSlots = BuildSlots();

const CommandInfo* FindHashed(std::string_view upper_name, uint32_t hash) {
  for (size_t s = hash & (kSlotCount - 1); kSlots[s] != 0; s = (s + 1) & (kSlotCount - 1)) {
    const CommandInfo& c = kCommands[kSlots[s] - 1];
    if (c.name == upper_name) return &c;
  }
  return nullptr;
}

constexpr bool InTable(std::string_view upper_name) { return FindExact(upper_name) != nullptr; }

// The commands whose keys the server finds in code rather than by their specs alone.
static_assert(InTable("SORT") && InTable("MIGRATE"));
constexpr const CommandInfo* kSort = FindExact("SORT");
constexpr const CommandInfo* kMigrate = FindExact("MIGRATE");

char UpperAscii(char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; }

bool EqualsIgnoreCase(std::string_view arg, std::string_view upper) {
  if (arg.size() != upper.size()) return false;
  for (size_t i = 0; i < arg.size(); ++i) {
    if (UpperAscii(arg[i]) != upper[i]) return false;
  }
  return true;
}

// Appends `name` upper-cased to buf[len...], hashing it on from `hash`; false when it does
// not fit, and so names no command.
bool AppendUpper(char* buf, size_t& len, uint32_t& hash, std::string_view name) {
  if (name.size() > kLongestName - len) return false;
  for (char c : name) {
    buf[len] = UpperAscii(c);
    hash = HashStep(hash, buf[len++]);
  }
  return true;
}

// The request as the server numbers it: position 0 is the command name, position i is
// args[i - 1]. Positions past the kept arguments exist (up to argc) but cannot be read.
class Argv {
 public:
  Argv(absl::Span<const std::string_view> args, size_t wire_args)
      : args_(args),
        kept_(static_cast<int64_t>(args.size())),
        argc_(static_cast<int64_t>(std::clamp<size_t>(wire_args, args.size(), kMaxArgc)) + 1) {}

  int64_t argc() const { return argc_; }
  int64_t last_kept() const { return kept_; }
  bool kept(int64_t pos) const { return pos >= 1 && pos <= kept_; }
  std::string_view at(int64_t pos) const { return args_[static_cast<size_t>(pos - 1)]; }

 private:
  // Far past any real request, and small enough that no position arithmetic overflows.
  static constexpr size_t kMaxArgc = size_t{1} << 40;
  absl::Span<const std::string_view> args_;
  int64_t kept_;
  int64_t argc_;
};

// A key count as the server reads it: decimal digits, not negative. -1 when it is not one,
// or so large that no request holds that many keys.
int64_t ParseKeyCount(std::string_view s) {
  if (s.empty() || s.size() > 18) return -1;
  int64_t n = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return -1;
    n = n * 10 + (c - '0');
  }
  return n;
}

// The position of the spec's first key, or 0 when the request has no such position.
int64_t FirstKeyPosition(const BeginSearch& begin, const Argv& argv) {
  if (begin.kind == BeginSearch::kIndex) return begin.index;
  // kKeyword: from the start forward, or from the end backward.
  if (begin.index > 0) {
    for (int64_t pos = begin.index; argv.kept(pos); ++pos) {
      if (EqualsIgnoreCase(argv.at(pos), begin.keyword)) return pos + 1;
    }
    return 0;
  }
  for (int64_t pos = std::min(argv.argc() + begin.index, argv.last_kept()); pos >= 1; --pos) {
    if (EqualsIgnoreCase(argv.at(pos), begin.keyword)) return pos + 1;
  }
  return 0;
}

void AppendKeys(int64_t first, int64_t last, int64_t step, const Argv& argv,
                std::vector<uint32_t>* key_args) {
  for (int64_t pos = first; pos <= last && argv.kept(pos); pos += step) {
    key_args->push_back(static_cast<uint32_t>(pos - 1));
  }
}

// Follows one key spec as the server's getKeysUsingKeySpecs does; a spec the request
// contradicts gives no keys.
void AppendSpecKeys(const KeySpec& spec, const Argv& argv, std::vector<uint32_t>* key_args) {
  if (spec.not_key || spec.begin.kind == BeginSearch::kUnknown) return;
  int64_t first = FirstKeyPosition(spec.begin, argv);
  if (first == 0) return;
  // Set by every case that does not return; initialised for compilers that cannot tell.
  int64_t last = 0;
  int64_t step = 1;
  const FindKeys& f = spec.find;
  switch (f.kind) {
    case FindKeys::kRange:
      step = f.b;
      if (f.a >= 0) {
        last = first + f.a;
      } else if (f.c == 0) {
        last = argv.argc() + f.a;
      } else {
        last = first + ((argv.argc() - first) / f.c + f.a);
      }
      break;
    case FindKeys::kKeynum: {
      step = f.c;
      const int64_t count_pos = first + f.a;
      if (!argv.kept(count_pos)) return;
      const int64_t count = ParseKeyCount(argv.at(count_pos));
      if (count < 0) return;
      first += f.b;
      last = first + count - 1;
      break;
    }
    case FindKeys::kUnknown:
      return;
  }
  if (first >= argv.argc() || last >= argv.argc() || last < first) return;
  AppendKeys(first, last, step, argv, key_args);
}

// SORT key ... [STORE dst]: STORE may come anywhere after the key; the last one counts.
void AppendSortStoreKey(const Argv& argv, std::vector<uint32_t>* key_args) {
  int64_t store = 0;
  for (int64_t pos = 2; argv.kept(pos); ++pos) {
    const std::string_view a = argv.at(pos);
    if (EqualsIgnoreCase(a, "LIMIT")) {
      pos += 2;
    } else if (EqualsIgnoreCase(a, "GET") || EqualsIgnoreCase(a, "BY")) {
      pos += 1;
    } else if (EqualsIgnoreCase(a, "STORE") && pos + 1 < argv.argc()) {
      store = pos + 1;
    }
  }
  if (argv.kept(store)) key_args->push_back(static_cast<uint32_t>(store - 1));
}

// MIGRATE host port key|"" db timeout [COPY] [REPLACE] [AUTH pw | AUTH2 user pw]
// [KEYS k...]: the one key, or with KEYS every argument after it. Read as the server's
// migrateGetKeys does, so that a password spelled "keys" is never taken for the keyword.
void AppendMigrateKeys(const Argv& argv, std::vector<uint32_t>* key_args) {
  for (int64_t pos = 6; argv.kept(pos); ++pos) {
    const std::string_view a = argv.at(pos);
    if (EqualsIgnoreCase(a, "KEYS")) {
      AppendKeys(pos + 1, argv.argc() - 1, 1, argv, key_args);
      return;
    }
    if (EqualsIgnoreCase(a, "AUTH")) {
      pos += 1;
    } else if (EqualsIgnoreCase(a, "AUTH2")) {
      pos += 2;
    }
  }
  if (argv.kept(3)) key_args->push_back(2);
}

}  // namespace

CommandMatch MatchCommand(std::string_view name, absl::Span<const std::string_view> args) {
  char buf[kLongestName];
  size_t len = 0;
  uint32_t hash = kHashSeed;
  if (!AppendUpper(buf, len, hash, name)) return {};
  CommandMatch m;
  m.info = FindHashed(std::string_view(buf, len), hash);
  if (m.info == nullptr || !m.info->has_subcommands || args.empty()) return m;
  m.subcommand = true;
  if (len == kLongestName) {
    m.info = nullptr;
    return m;
  }
  buf[len++] = '|';
  hash = HashStep(hash, '|');
  m.info = AppendUpper(buf, len, hash, args[0]) ? FindHashed(std::string_view(buf, len), hash)
                                                : nullptr;
  return m;
}

void FindKeyArgs(const CommandInfo& info, absl::Span<const std::string_view> args, size_t wire_args,
                 std::vector<uint32_t>* key_args) {
  const Argv argv(args, wire_args);
  if (&info == kMigrate) {
    AppendMigrateKeys(argv, key_args);
    return;
  }
  for (const KeySpec& spec : info.key_specs) {
    if (spec.begin.kind == BeginSearch::kNone) break;
    AppendSpecKeys(spec, argv, key_args);
  }
  if (&info == kSort) AppendSortStoreKey(argv, key_args);
}

}  // namespace resptrace

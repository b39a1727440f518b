// The RESP2/RESP3 value types.
#ifndef RESPTRACE_RESP_TYPE_H_
#define RESPTRACE_RESP_TYPE_H_

#include <cstdint>
#include <string_view>

namespace resptrace {

enum class RespType : uint8_t {
  kSimpleString,  // +
  kError,         // -
  kInteger,       // :
  kBulkString,    // $
  kNull,          // _  and RESP2's $-1 / *-1
  kArray,         // *
  kMap,           // %
  kSet,           // ~
  kDouble,        // ,
  kBoolean,       // #
  kBigNumber,     // (
  kVerbatim,      // =
  kPush,          // >
  kAttribute,     // |
  kBulkError,     // !
};

// The name used in records: "simple", "error", "integer", "bulk", "null", "array", "map",
// "set", "double", "boolean", "bignum", "verbatim", "push", "attribute"; a bulk error is
// an "error".
std::string_view RespTypeName(RespType t);

inline bool IsAggregate(RespType t) {
  return t == RespType::kArray || t == RespType::kMap || t == RespType::kSet ||
         t == RespType::kPush || t == RespType::kAttribute;
}

inline bool IsError(RespType t) { return t == RespType::kError || t == RespType::kBulkError; }

}  // namespace resptrace

#endif  // RESPTRACE_RESP_TYPE_H_

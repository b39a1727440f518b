#include "resptrace/resp_type.h"

namespace resptrace {

std::string_view RespTypeName(RespType t) {
  switch (t) {
    case RespType::kSimpleString: return "simple";
    case RespType::kError: return "error";
    case RespType::kInteger: return "integer";
    case RespType::kBulkString: return "bulk";
    case RespType::kNull: return "null";
    case RespType::kArray: return "array";
    case RespType::kMap: return "map";
    case RespType::kSet: return "set";
    case RespType::kDouble: return "double";
    case RespType::kBoolean: return "boolean";
    case RespType::kBigNumber: return "bignum";
    case RespType::kVerbatim: return "verbatim";
    case RespType::kPush: return "push";
    case RespType::kAttribute: return "attribute";
    case RespType::kBulkError: return "error";
  }
  return "unknown";
}

}  // namespace resptrace

#include "dso-backend/backend.h"

namespace nvobj::dso {

std::string_view type_name(ValueType t) {
  switch (t) {
    case ValueType::kString: return "string";
    case ValueType::kHash: return "hash";
    case ValueType::kList: return "list";
    case ValueType::kZSet: return "zset";
    case ValueType::kObject: return "object";
    case ValueType::kNone: break;
  }
  return "none";
}

}  // namespace nvobj::dso

// The process side of the class registry: what a C++ proxy class tells the
// runtime about itself. A proxy class T declares
//
//   static constexpr std::string_view kClassName = "bank.Account";  // stable
//   static constexpr nvobj::RefMap kRefs =
//       nvobj::ref_map<Data>({offsetof(Data, owner)});   // every pptr field
//
// kRefs is mandatory even when empty (ref_map<Data>()): recovery keeps only
// what it can reach, so a reference the class forgets to declare is an
// object lost at the next crash. The pool maps kClassName to an id
// (class_table.h); the index below only speeds up that lookup.
#ifndef NVOBJ_RUNTIME_CLASS_REGISTRY_H_
#define NVOBJ_RUNTIME_CLASS_REGISTRY_H_

#include <cstdint>
#include <string_view>

#include "runtime/ref_map.h"

namespace nvobj {

struct ClassInfo {
  std::string_view name;
  RefMap refs;
  uint32_t index;  // process-wide, dense, in order of first use
};

uint32_t next_class_index();

template <typename T>
const ClassInfo& class_info() {
  static_assert(sizeof(T::kClassName) > 0, "a persistent class needs a kClassName");
  static const ClassInfo info{T::kClassName, T::kRefs, next_class_index()};
  return info;
}

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_CLASS_REGISTRY_H_

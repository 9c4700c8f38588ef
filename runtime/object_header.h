// The 8 bytes in front of every heap object. They let recovery, the checker
// and `free` go from a reference to the object's class and extent without any
// other metadata: a reference points at the payload, the header sits just
// before it.
//
//   class_id    the pool's id for the object's class (see class_registry.h);
//               0 never names a class
//   size_word   small objects: the allocator's size-class index;
//               large objects: kLargeBit | number of 4 KiB pages spanned
//
// The allocator writes the header (one 8-byte store) at allocation; whoever
// publishes the object writes back header and payload together, and the
// fence that publishes it makes both durable.
#ifndef NVOBJ_RUNTIME_OBJECT_HEADER_H_
#define NVOBJ_RUNTIME_OBJECT_HEADER_H_

#include <cstdint>

namespace nvobj {

struct ObjectHeader {
  uint32_t class_id;
  uint32_t size_word;
};
static_assert(sizeof(ObjectHeader) == 8 && alignof(ObjectHeader) == 4);

inline constexpr uint32_t kLargeBit = 0x8000'0000u;
inline constexpr uint64_t kObjectHeaderSize = sizeof(ObjectHeader);
// Every object header starts on a 16-byte boundary; payloads on 8 bytes.
inline constexpr uint64_t kObjectGranule = 16;
inline constexpr uint64_t kMaxObjectAlign = 8;

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_OBJECT_HEADER_H_

// On-media layout of the named-root directory (class kClassIdRootTable,
// reached from anchor kAnchorRoots): an application finds its objects after
// a restart by name. The table is `capacity` references followed by
// `capacity` names; a slot with an empty name is free. Every change goes
// through a failure-atomic block (see store.h), so a name and its reference
// always change together.
#ifndef NVOBJ_RUNTIME_ROOT_TABLE_H_
#define NVOBJ_RUNTIME_ROOT_TABLE_H_

#include <cstdint>

namespace nvobj {

inline constexpr char kRootTableMagic[8] = {'N', 'V', 'O', 'B', 'J', 'R', 'T', '1'};
inline constexpr size_t kMaxRootNameLength = 63;

struct RootTableHeader {
  char magic[8];
  uint64_t capacity;  // slots; the tail of references has this many entries
  uint64_t reserved[2];
};
static_assert(sizeof(RootTableHeader) == 32 && alignof(RootTableHeader) == 8);

struct RootName {
  uint8_t length;  // 0 = free slot
  char name[kMaxRootNameLength];
};
static_assert(sizeof(RootName) == 64);

inline constexpr uint64_t root_table_size(uint64_t capacity) {
  return sizeof(RootTableHeader) + capacity * (8 + sizeof(RootName));
}
inline constexpr uint64_t root_ref_offset(uint64_t i) { return sizeof(RootTableHeader) + i * 8; }
inline constexpr uint64_t root_name_offset(uint64_t capacity, uint64_t i) {
  return sizeof(RootTableHeader) + capacity * 8 + i * sizeof(RootName);
}

// Raw bytes (class kClassIdBytes): a length, then the bytes.
struct BytesHeader {
  uint64_t size;
  uint64_t reserved;
};
static_assert(sizeof(BytesHeader) == 16);

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_ROOT_TABLE_H_

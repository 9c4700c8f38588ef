// Fixed places in a pool that the runtime's layers share: anchor slots and
// the class ids of nvobj's own persistent objects. Values are part of the
// pool format (docs/pool-format.md); never renumber them.
#ifndef NVOBJ_RUNTIME_LAYOUT_H_
#define NVOBJ_RUNTIME_LAYOUT_H_

#include <cstdint>

#include "runtime/pool_header.h"

namespace nvobj {

// Anchor slots (8-byte words at kAnchorOffset) below kFirstUserAnchor.
inline constexpr uint64_t kAnchorClassTable = 0;      // -> ClassTable object
inline constexpr uint64_t kAnchorRoots = 1;           // -> root directory object
inline constexpr uint64_t kAnchorAllocSnapshot = 2;   // -> allocator snapshot (clean close only)
inline constexpr uint64_t kAnchorCloseSnapshots = 3;  // -> close_snapshots.h (clean close only)

// Failure-atomic block log slots: 64-byte lines after the anchors page.
inline constexpr uint64_t kLogSlotOffset = kAnchorOffset + kHeaderCopySize;  // 12 KiB
inline constexpr uint64_t kLogSlotSize = 64;
inline constexpr uint64_t kLogSlotCount = 512;  // 32 KiB; more threads wait for a slot
static_assert(kLogSlotOffset + kLogSlotSize * kLogSlotCount <= kDefaultDataOffset);

// Class ids of nvobj's own objects; application classes get ids from
// kFirstUserClassId up, assigned per pool by name (class_registry.h).
inline constexpr uint32_t kClassIdAllocSnapshot = 1;
inline constexpr uint32_t kClassIdClassTable = 2;
inline constexpr uint32_t kClassIdRootTable = 3;
inline constexpr uint32_t kClassIdLogSegment = 4;
inline constexpr uint32_t kClassIdBytes = 5;           // raw bytes, no references
inline constexpr uint32_t kClassIdCloseSnapshots = 6;  // runtime/close_snapshots.h
inline constexpr uint32_t kFirstUserClassId = 64;

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_LAYOUT_H_

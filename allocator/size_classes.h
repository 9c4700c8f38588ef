// Size classes of the small-object allocator. Block sizes include the 8-byte
// object header: 16..128 bytes in steps of 16, then 8 classes per doubling up
// to 16 KiB, so a block wastes at most 12.5% beyond the first few classes (a
// 1 KiB record plus header fits a 1152-byte block). Larger objects are page
// extents (see allocator.h).
#ifndef NVOBJ_ALLOCATOR_SIZE_CLASSES_H_
#define NVOBJ_ALLOCATOR_SIZE_CLASSES_H_

#include <array>
#include <cstdint>

#include "runtime/object_header.h"

namespace nvobj::alloc {

inline constexpr uint64_t kChunkSize = 64 * 1024;  // one run of small blocks
inline constexpr uint64_t kPageSize = 4096;        // unit of large extents
inline constexpr uint64_t kPagesPerChunk = kChunkSize / kPageSize;
inline constexpr int kNumClasses = 64;
inline constexpr uint64_t kMaxSmallBlock = 16 * 1024;

// The heap starts at the first chunk boundary at or after the pool's data area.
constexpr uint64_t heap_begin_for(uint64_t data_offset) {
  return (data_offset + kChunkSize - 1) / kChunkSize * kChunkSize;
}

constexpr std::array<uint32_t, kNumClasses> make_block_sizes() {
  std::array<uint32_t, kNumClasses> s{};
  int i = 0;
  for (uint32_t b = 16; b <= 128; b += 16) s[i++] = b;
  for (uint32_t base = 128; base < kMaxSmallBlock; base *= 2)
    for (uint32_t k = 1; k <= 8; ++k) s[i++] = base + k * (base / 8);
  return s;
}
inline constexpr std::array<uint32_t, kNumClasses> kBlockSizes = make_block_sizes();
static_assert(kBlockSizes[kNumClasses - 1] == kMaxSmallBlock);

// The smallest class whose block holds `block_bytes` (header included), or -1.
inline int size_class_for(uint64_t block_bytes) {
  if (block_bytes > kMaxSmallBlock) return -1;
  if (block_bytes <= 128) return block_bytes == 0 ? 0 : static_cast<int>((block_bytes - 1) / 16);
  int lo = 8, hi = kNumClasses - 1;  // binary search over the geometric part
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (kBlockSizes[mid] >= block_bytes)
      hi = mid;
    else
      lo = mid + 1;
  }
  return lo;
}

inline constexpr uint32_t blocks_per_run(int cls) {
  return static_cast<uint32_t>(kChunkSize / kBlockSizes[cls]);
}

// Bytes an object's block or extent spans (header included), from its
// header's size word; 0 if the size word is invalid.
inline uint64_t span_bytes(uint32_t size_word) {
  if (size_word & kLargeBit) return uint64_t{size_word & ~kLargeBit} * kPageSize;
  return size_word < kNumClasses ? kBlockSizes[size_word] : 0;
}

}  // namespace nvobj::alloc

#endif  // NVOBJ_ALLOCATOR_SIZE_CLASSES_H_

// On-media pool header. The header is kept in two copies (pages 0 and 1) so
// that a torn update is always recoverable: an update rewrites copy 1, makes it
// durable, then rewrites copy 0. At open the valid copy with the highest
// generation wins and the other is repaired. See docs/pool-format.md.
//
// Layout rules (libpmemobj-cpp style): fixed-width fields, explicit padding,
// little-endian, no pointers; size and alignment are static_asserted. A change
// that older builds cannot read bumps kLayoutMajor; an additive change that
// they can ignore bumps kLayoutMinor.
#ifndef NVOBJ_RUNTIME_POOL_HEADER_H_
#define NVOBJ_RUNTIME_POOL_HEADER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace nvobj {

inline constexpr char kPoolMagic[8] = {'N', 'V', 'O', 'B', 'J', 'P', 'L', '\0'};
// 2: a list's log may hold its trims (pobjects/plist.h), which a 1.x build
// would read as an element. This build reads 1.x pools (they hold no trims)
// and marks them 2.0 when it opens them, so that no 1.x build opens them
// after it.
inline constexpr uint32_t kLayoutMajor = 2;
inline constexpr uint32_t kLayoutMinor = 0;
inline constexpr uint32_t kOldestLayoutMajor = 1;  // the oldest this build opens

inline constexpr uint64_t kHeaderCopySize = 4096;
inline constexpr uint64_t kHeaderCopyOffset[2] = {0, kHeaderCopySize};
// Page 2: anchors, 8-byte slots owned by the upper layers (allocator,
// registry, root). Each slot is changed by one atomic 8-byte store + persist.
inline constexpr uint64_t kAnchorOffset = 2 * kHeaderCopySize;
inline constexpr uint64_t kAnchorCount = kHeaderCopySize / sizeof(uint64_t);
// Slots below kFirstUserAnchor belong to nvobj's own layers; applications
// that use the runtime directly may take the rest.
inline constexpr uint64_t kFirstUserAnchor = 64;
// Everything from kDataOffset to the pool's size belongs to the heap.
inline constexpr uint64_t kDefaultDataOffset = uint64_t{64} * 1024;
inline constexpr uint64_t kMinPoolSize = uint64_t{1} << 20;

enum HeaderFlags : uint32_t {
  kFlagDeviceUscValid = 1u << 0,  // device_id/device_usc hold a DAX device's state
};

struct alignas(64) PoolHeader {
  char magic[8];            // kPoolMagic
  uint32_t layout_major;    // kLayoutMajor at creation
  uint32_t layout_minor;    // kLayoutMinor at creation
  uint8_t uuid[16];         // random, fixed at creation
  uint64_t generation;      // +1 on every header update; picks the newest copy
  uint64_t create_time_ns;  // CLOCK_REALTIME at creation
  uint64_t size;            // bytes of the file that belong to the pool
  uint64_t data_offset;     // first heap byte
  uint32_t requested_mode;  // Mode asked for at creation (informational)
  uint32_t clean_shutdown;  // 1 after a clean close, 0 while open
  uint32_t flags;           // HeaderFlags
  uint32_t reserved0;
  uint64_t open_count;    // successful opens since creation
  uint64_t device_usc;    // unsafe shutdown count seen at last open (dax)
  char device_id[128];    // pmem2 device id seen at last open (dax)
  uint8_t reserved[280];  // zero; room for minor-version fields
  uint64_t checksum;      // crc32c of every byte before this field
};
static_assert(sizeof(PoolHeader) == 512, "PoolHeader is on media: size is fixed");
static_assert(alignof(PoolHeader) == 64);
static_assert(offsetof(PoolHeader, checksum) == 504);
static_assert(sizeof(PoolHeader) <= kHeaderCopySize);

// Computes and stores the checksum field.
void seal_header(PoolHeader& h);

enum class HeaderCheck {
  kValid,
  kBlank,        // all zero: nothing was ever written (interrupted creation)
  kBadMagic,     // not an nvobj header
  kBadChecksum,  // nvobj magic, but torn or corrupt
};
HeaderCheck check_header(const PoolHeader& h);

// Result of comparing the two on-media copies.
struct HeaderChoice {
  HeaderCheck copy_state[2];
  int chosen = -1;            // index of the copy to trust, -1 if none
  bool needs_repair = false;  // the other copy must be rewritten from `chosen`
};
HeaderChoice choose_header(const PoolHeader& copy0, const PoolHeader& copy1);

std::string uuid_to_string(const uint8_t (&uuid)[16]);

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_POOL_HEADER_H_

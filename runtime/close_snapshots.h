// On-media layout of the clean-close snapshots (class kClassIdCloseSnapshots,
// reached from anchor kAnchorCloseSnapshots): volatile state that proxies
// saved at a clean close so that the next open need not rebuild it (a map's
// index, pobjects/index_snapshot.h).
//
// The directory lists `count` snapshot objects (references, so that
// `nvobj-pool check` reaches them) and, after them, each one's owner key
// (an offset of the owning object: not a reference, the owner may be gone).
// A snapshot is a raw-bytes object (class kClassIdBytes, BytesHeader) whose
// bytes start with a CloseSnapshotHeader. Recovery clears the anchor before
// it marks, so a crash drops every snapshot (they describe the pool as it
// was at the close, not as the crash left it); so does an open that finds
// the pool opened since by a program that does not know them (the pool's
// open count moved on by more than that one open). See Store::close_snapshot.
#ifndef NVOBJ_RUNTIME_CLOSE_SNAPSHOTS_H_
#define NVOBJ_RUNTIME_CLOSE_SNAPSHOTS_H_

#include <cstddef>
#include <cstdint>

#include "runtime/root_table.h"

namespace nvobj {

inline constexpr char kCloseSnapshotsMagic[8] = {'N', 'V', 'O', 'B', 'J', 'C', 'S', '1'};

struct CloseSnapshotsHeader {
  char magic[8];
  uint64_t open_count;  // the pool header's, in the session that closed
  uint64_t reserved;
  uint64_t count;  // references in the tail; then `count` owner keys
};
static_assert(sizeof(CloseSnapshotsHeader) == 32 && alignof(CloseSnapshotsHeader) == 8);

inline constexpr uint64_t close_snapshots_size(uint64_t count) {
  return sizeof(CloseSnapshotsHeader) + count * 16;
}
static_assert(offsetof(CloseSnapshotsHeader, count) % 8 == 0);

// At the start of a snapshot's bytes (after its BytesHeader).
struct CloseSnapshotHeader {
  uint64_t owner;
  uint64_t length;  // bytes after this header
  uint32_t crc;     // crc32c of those bytes
  uint32_t reserved;
  uint64_t reserved2;
};
static_assert(sizeof(CloseSnapshotHeader) == 32 && alignof(CloseSnapshotHeader) == 8);

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_CLOSE_SNAPSHOTS_H_

// Marking: which objects of a pool are live. An object is live when it is
// reachable from the pool's roots (the class table and the root directory)
// through the references each class declares (RefMap, stored in the pool, so
// no application code is needed). Every object reached is validated: in the
// heap, aligned, of a class the pool defines, with a consistent size and
// tail. Recovery keeps exactly the marked objects; `nvobj-pool check`
// compares them with the heap's own view.
#ifndef NVOBJ_RECOVERY_MARK_H_
#define NVOBJ_RECOVERY_MARK_H_

#include <atomic>
#include <cstdint>

#include "allocator/live_bitmap.h"
#include "runtime/class_table.h"
#include "runtime/pool.h"
#include "runtime/status.h"

namespace nvobj::recovery {

struct MarkStats {
  uint64_t objects = 0;
  uint64_t bytes = 0;  // blocks and extents of the live objects, headers included
};

// Marks every reachable object into `live` using up to `threads` threads.
// `progress`, if given, is advanced by objects marked (for a progress line).
// Fails with kCorrupt, naming the object and the reference that led to it,
// on the first invalid object found.
Result<MarkStats> mark_reachable(const Pool& pool, const ClassTable& classes,
                                 alloc::LiveBitmap& live, unsigned threads,
                                 std::atomic<uint64_t>* progress = nullptr);

}  // namespace nvobj::recovery

#endif  // NVOBJ_RECOVERY_MARK_H_

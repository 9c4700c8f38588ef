// The allocation interface the runtime's object model uses. It lives here so
// that runtime/ does not depend on allocator/ (dependencies point one way);
// allocator/Allocator implements it.
#ifndef NVOBJ_RUNTIME_HEAP_H_
#define NVOBJ_RUNTIME_HEAP_H_

#include <cstdint>

#include "runtime/status.h"

namespace nvobj {

struct HeapUsage {
  uint64_t heap_bytes = 0;  // the pool's data area managed by the heap
  uint64_t live_bytes = 0;  // allocated, headers and size-class rounding included
  uint64_t live_objects = 0;
  uint64_t free_bytes = 0;
};

class Heap {
 public:
  virtual ~Heap() = default;
  // Allocates at least `size` payload bytes for an object of `class_id` and
  // returns the payload's offset. The header is written but neither written
  // back nor fenced: whoever makes the object durable writes back header and
  // payload together (Store does), so allocation itself costs no write-back,
  // no fence, and the object is not live until something publishes it.
  // Fails with kNoSpace when the pool is full (and may not grow).
  virtual Result<uint64_t> allocate(uint64_t size, uint32_t class_id) = 0;
  // Returns an object's space. The caller guarantees that the object is no
  // longer reachable, durably (after a crash it would be reclaimed anyway).
  virtual void deallocate(uint64_t payload_offset) = 0;
  // Payload bytes usable in an allocated object (>= the size asked for).
  virtual uint64_t usable_size(uint64_t payload_offset) const = 0;
  virtual HeapUsage usage() const = 0;
  // Saves the heap's volatile state in the pool so that the next open needs
  // no scan (part of a clean close; no allocation may follow).
  virtual Status checkpoint() = 0;
};

}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_HEAP_H_

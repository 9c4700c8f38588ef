// Heap verification of a closed pool (`nvobj-pool check`), without changing
// anything: the pool is mapped copy-on-write, so even the log replay and the
// snapshot load a check performs stay in the checking process.
//
// It verifies that every object reachable from the roots is valid (in the
// heap, aligned, of a class the pool defines, with a consistent size and
// references) and, for a cleanly closed pool, that the heap's saved state
// agrees with reachability: every reachable object is allocated, and every
// allocated object is reachable (otherwise it is a leak).
#ifndef NVOBJ_RECOVERY_CHECK_H_
#define NVOBJ_RECOVERY_CHECK_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/pool.h"
#include "runtime/status.h"

namespace nvobj::recovery {

struct HeapCheckReport {
  std::vector<std::string> problems;  // one line each; empty when consistent
  bool clean_shutdown = true;
  bool snapshot_found = false;  // heap state saved by a clean close
  uint64_t logs_to_replay = 0;  // committed blocks recovery would re-apply
  uint64_t logs_to_drop = 0;    // uncommitted blocks it would discard
  uint64_t reachable_objects = 0;
  uint64_t reachable_bytes = 0;
  uint64_t allocated_objects = 0;  // by the heap's state (snapshot or rebuild)
  uint64_t allocated_bytes = 0;
  uint64_t leaked_objects = 0;  // allocated, unreachable
  uint64_t leaked_bytes = 0;
  uint64_t reclaimable_objects = 0;  // after a crash: what recovery would free
  uint64_t reclaimable_bytes = 0;
  std::map<std::string, uint64_t> objects_by_class;  // reachable
  bool consistent() const { return problems.empty(); }
};

// Fails only when the pool cannot be opened at all (not a pool, busy...);
// damage found inside is reported in `problems`.
Result<HeapCheckReport> check_heap(const std::string& path, unsigned threads = 0);
// The same on a pool already open with a private (copy-on-write) mapping;
// the log replay the check performs changes that mapping.
HeapCheckReport check_heap(Pool& pool, unsigned threads = 0);

}  // namespace nvobj::recovery

#endif  // NVOBJ_RECOVERY_CHECK_H_

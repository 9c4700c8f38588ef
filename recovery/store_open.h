// Opening a store: the entry point applications use.
//
//   auto store = nvobj::open_store("/dev/shm/app.pool");   // or create_store
//   if (!store) { std::cerr << store.status().to_string() << "\n"; return 1; }
//
// A pool closed cleanly opens without scanning anything: the heap comes back
// from the snapshot the close saved. After a crash, open recovers: it
// re-applies committed failure-atomic blocks and drops uncommitted ones,
// marks the reachable objects in parallel, and rebuilds the heap from them,
// which reclaims everything unreachable (objects allocated but never
// published, frees that raced with the crash, dropped blocks' allocations
// and logs). Store::open_report() and a log line say what was found.
#ifndef NVOBJ_RECOVERY_STORE_OPEN_H_
#define NVOBJ_RECOVERY_STORE_OPEN_H_

#include <memory>
#include <string>

#include "allocator/allocator.h"
#include "runtime/class_table.h"
#include "runtime/pool.h"
#include "runtime/status.h"
#include "runtime/store.h"

namespace nvobj {

struct StoreOptions {
  OpenOptions open;      // for open_store
  CreateOptions create;  // for create_store
  alloc::AllocatorOptions heap;
  unsigned recovery_threads = 0;  // 0: one per hardware thread
  bool force_recovery = false;    // recover even after a clean close
  bool progress = true;           // progress line on a terminal when recovery is slow
};

Result<std::unique_ptr<Store>> open_store(const std::string& path, const StoreOptions& opts = {});
Result<std::unique_ptr<Store>> create_store(const std::string& path, const StoreOptions& opts = {});
// A store over a pool the caller opened and keeps (the crash harness, tools):
// the same snapshot-or-recover logic; Store::close leaves the pool open.
Result<std::unique_ptr<Store>> attach_store(Pool& pool, const StoreOptions& opts = {});

namespace recovery {

// What recovery of an open pool produced (for tools that want the pieces).
struct Recovered {
  std::unique_ptr<alloc::Allocator> heap;
  ClassTable classes;
  OpenReport report;
};

// Replays logs, marks and rebuilds the heap of `pool` (which must be open
// read-write or private). Does not change anything else.
Result<Recovered> recover_pool(Pool& pool, const StoreOptions& opts);

}  // namespace recovery

}  // namespace nvobj

#endif  // NVOBJ_RECOVERY_STORE_OPEN_H_

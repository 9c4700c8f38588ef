// The failure-atomic persistent allocator.
//
// The heap is the pool's data area cut into 64 KiB chunks. A chunk is either
// a *run* of equal blocks of one size class (small objects, up to 16 KiB with
// their header) or part of the *page heap*, where large objects take whole
// 4 KiB pages (an extent, any number of pages, any chunk boundaries).
//
// All allocator state is volatile: run bitmaps, the free extents, per-thread
// caches. The only persistent bytes an allocation writes are the object's
// header (one store; the publisher writes it back). So allocation costs no
// write-back and no fence, and a crash
// cannot leave the allocator's own structures inconsistent: after a crash,
// recovery marks what is reachable and rebuilds this state from the live
// objects (rebuild()); after a clean close it is reloaded from the snapshot
// written by save_snapshot(), without scanning anything.
//
// An object is live when it is reachable (published). One allocated and not
// yet published when the process dies is unreachable, so recovery reclaims
// it; a free that races with a crash is safe for the same reason: recovery
// trusts reachability, never a free list.
//
// Concurrency: each thread allocates from its own current run per class (a
// bitmap only it sets bits in); frees from any thread clear bits atomically.
// Runs with free blocks wait in a per-class list (a mutex per class, taken
// once per run, not per object). Large objects and new runs come from the page
// heap under one mutex.
#ifndef NVOBJ_ALLOCATOR_ALLOCATOR_H_
#define NVOBJ_ALLOCATOR_ALLOCATOR_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <vector>

#include "allocator/live_bitmap.h"
#include "allocator/size_classes.h"
#include "runtime/heap.h"
#include "runtime/per_thread.h"
#include "runtime/pool.h"
#include "runtime/zeroed_array.h"

namespace nvobj::alloc {

struct AllocatorOptions {
  // When the heap is full, grow the pool (up to its reserved maximum) instead
  // of failing. Growth adds max(grow_step, what the request needs).
  bool allow_grow = true;
  uint64_t grow_step = uint64_t{64} << 20;
};

struct ClassStats {
  uint32_t block_size = 0;
  uint64_t runs = 0;
  uint64_t blocks = 0;       // capacity of those runs
  uint64_t used_blocks = 0;  // allocated
};

struct AllocatorStats {
  uint64_t heap_bytes = 0;      // the pool's data area
  uint64_t live_bytes = 0;      // allocated blocks and extents, headers included
  uint64_t live_objects = 0;    // allocated objects
  uint64_t free_bytes = 0;      // heap_bytes - live_bytes
  uint64_t run_free_bytes = 0;  // free blocks inside runs
  uint64_t extent_free_bytes = 0;
  uint64_t largest_free_extent = 0;
  uint64_t large_objects = 0;
  uint64_t large_bytes = 0;
  // 1 - largest free extent / free extent bytes: 0 when free pages are one
  // extent, near 1 when they are scattered.
  double external_fragmentation = 0;
  // Share of run capacity that is free: space only same-class objects can use.
  double run_fragmentation = 0;
  std::array<ClassStats, kNumClasses> classes{};
};

// A pre-crash object the rebuild found with a header it cannot accept.
struct RebuildError {
  uint64_t header_offset;
  std::string what;
};

class Allocator final : public Heap, private PerThreadOwner {
 public:
  // An empty heap over the pool's whole data area (a new pool).
  static std::unique_ptr<Allocator> create_empty(Pool& pool, const AllocatorOptions& opts);
  // State from the live objects recovery marked (headers are read from the
  // pool). Fails with kCorruption if live objects overlap or disagree about a
  // chunk's use. `threads` > 1 rebuilds chunks in parallel.
  static Result<std::unique_ptr<Allocator>> rebuild(Pool& pool, const AllocatorOptions& opts,
                                                    const LiveBitmap& live, unsigned threads);
  // State from the snapshot a clean close left (see save_snapshot). Fails if
  // there is none or it does not verify; the caller then recovers instead.
  // On success the snapshot's own space is freed and the anchor cleared.
  static Result<std::unique_ptr<Allocator>> load_snapshot(Pool& pool, const AllocatorOptions& opts);

  ~Allocator() override;
  Allocator(const Allocator&) = delete;
  Allocator& operator=(const Allocator&) = delete;

  Result<uint64_t> allocate(uint64_t size, uint32_t class_id) override;
  void deallocate(uint64_t payload_offset) override;
  uint64_t usable_size(uint64_t payload_offset) const override;
  HeapUsage usage() const override;
  Status checkpoint() override { return save_snapshot(); }

  // Writes the allocator state into the pool (as an object of its own) and
  // points the snapshot anchor at it; part of a clean close. No allocation
  // or free may run concurrently or afterwards.
  Status save_snapshot();

  // Gives fully free runs back to the page heap (done automatically before
  // the heap grows or reports full).
  void trim();

  AllocatorStats stats() const;
  Pool& pool() const { return pool_; }
  uint64_t heap_begin() const { return heap_begin_; }
  // Whether `header_off` is the header of a currently allocated object.
  bool is_allocated(uint64_t header_off) const;
  // Calls fn(header_off, block_bytes) for every allocated object, in no
  // particular order. No allocation or free may run concurrently.
  void for_each_allocated(const std::function<void(uint64_t, uint64_t)>& fn) const;

  // After rebuild(): objects whose headers are still in the free space of
  // the heap, i.e. that were allocated when the pool crashed but that
  // recovery did not keep (made and never published, freed in flight, the
  // logs). Frees clear the class id of the header (one store, not written
  // back), so objects freed before the crash do not count; after a power
  // failure a lost clear may make a freed object count: an estimate, exact
  // after a process crash. `known` says whether a class id exists.
  struct Reclaimed {
    uint64_t objects = 0;
    uint64_t bytes = 0;
  };
  // Free space above the highest live object is not scanned (allocation
  // fills the heap from the bottom, and touching never-used pages costs a
  // page fault each); `extra` are headers known to have been allocated (the
  // logs' segments), counted wherever they are.
  Reclaimed find_reclaimed(const std::function<bool(uint32_t)>& known,
                           const std::vector<uint64_t>& extra_payloads = {}) const;

 private:
  struct Run;
  struct ThreadCache;
  struct ClassState {
    std::mutex mu;
    std::vector<Run*> partial;  // runs with free blocks that no thread owns
  };

  Allocator(Pool& pool, const AllocatorOptions& opts);
  ThreadCache& cache();
  Result<uint64_t> allocate_small(int cls, uint32_t class_id);
  Result<uint64_t> allocate_large(uint64_t pages, uint32_t class_id);
  Run* take_run(int cls);         // a run with free blocks, now owned by the caller
  void disown(Run* run);          // the owner gives a run back
  Result<uint64_t> take_chunk();  // an aligned free chunk from the page heap
  Result<uint64_t> take_pages(uint64_t n, bool chunk_aligned);
  void give_pages(uint64_t off, uint64_t n);  // caller holds pages_mu_
  Status grow_for(uint64_t bytes);            // caller holds pages_mu_
  Run* new_run(uint64_t chunk_off, int cls);
  void release_cache(ThreadCache* c);
  bool is_allocated_locked(uint64_t header_off) const;  // caller holds pages_mu_
  Status claim(ThreadCache& c, int cls);                // refills c's claimed blocks of class cls
  void drop_run(ThreadCache& c, int cls);               // unclaims and disowns c's run of class cls
  void* make_thread_state() override;
  void release_thread_state(void* state) override;
  void write_header(uint64_t header_off, uint32_t class_id, uint32_t size_word);
  uint64_t chunk_index(uint64_t off) const { return (off - heap_begin_) / kChunkSize; }

  Pool& pool_;
  AllocatorOptions opts_;
  uint64_t heap_begin_;
  std::atomic<uint64_t> heap_end_;
  ZeroedArray<std::atomic<Run*>> chunk_runs_;  // by chunk index, up to max_size
  uint64_t max_chunks_;
  std::array<ClassState, kNumClasses> classes_;

  mutable std::mutex pages_mu_;
  std::map<uint64_t, uint64_t> free_by_off_;              // page extent start -> bytes
  std::set<std::pair<uint64_t, uint64_t>> free_by_size_;  // (bytes, start)
  std::map<uint64_t, uint64_t> large_;                    // header offset -> bytes

  std::mutex runs_mu_;  // owns every Run ever made (retired ones stay valid)
  std::vector<std::unique_ptr<Run>> all_runs_;

  mutable std::mutex caches_mu_;
  std::vector<std::unique_ptr<ThreadCache>> caches_;
};

}  // namespace nvobj::alloc

#endif  // NVOBJ_ALLOCATOR_ALLOCATOR_H_

#include "recovery/check.h"

#include <thread>

#include <fmt/format.h>

#include "allocator/allocator.h"
#include "allocator/live_bitmap.h"
#include "allocator/size_classes.h"
#include "recovery/mark.h"
#include "runtime/class_table.h"
#include "runtime/layout.h"
#include "runtime/object_header.h"
#include "runtime/pool.h"
#include "runtime/redo_log.h"

namespace nvobj::recovery {

Result<HeapCheckReport> check_heap(const std::string& path, unsigned threads) {
  OpenOptions o;
  o.private_mapping = true;  // nothing the check does reaches the file
  NVOBJ_ASSIGN_OR_RETURN(std::unique_ptr<Pool> pool, Pool::open(path, o));
  return check_heap(*pool, threads);
}

HeapCheckReport check_heap(Pool& p, unsigned threads) {
  if (threads == 0) threads = std::max(1u, std::thread::hardware_concurrency());
  Pool* pool = &p;
  HeapCheckReport r;
  r.clean_shutdown = pool->was_clean_shutdown();

  std::unique_ptr<alloc::Allocator> heap;
  if (r.clean_shutdown) {
    auto h = alloc::Allocator::load_snapshot(*pool, {});
    if (h) {
      heap = std::move(*h);
      r.snapshot_found = true;
    }
  }
  auto replay = replay_logs(*pool);
  if (!replay) {
    r.problems.push_back(replay.status().message());
    return r;
  }
  r.logs_to_replay = replay->replayed;
  r.logs_to_drop = replay->dropped;
  if (r.clean_shutdown && (replay->replayed != 0 || replay->dropped != 0))
    r.problems.push_back("a cleanly closed pool has pending failure-atomic block logs");

  auto classes = ClassTable::load(*pool);
  if (!classes) {
    r.problems.push_back(classes.status().message());
    return r;
  }
  alloc::LiveBitmap live(alloc::heap_begin_for(pool->data_offset()), pool->size());
  auto marked = mark_reachable(*pool, *classes, live, threads);
  if (!marked) {
    r.problems.push_back(marked.status().message());
    return r;
  }
  r.reachable_objects = marked->objects;
  r.reachable_bytes = marked->bytes;
  live.for_each(live.begin(), live.end(), [&](uint64_t hdr) {
    uint32_t id = pool->at<ObjectHeader>(hdr)->class_id;
    const ClassRecord* c = classes->find(id);
    ++r.objects_by_class[c != nullptr ? c->name : fmt::format("#{}", id)];
  });

  if (heap == nullptr) {
    // No saved state to compare with: what recovery would rebuild must be
    // self-consistent (no overlaps, chunks of one size class each).
    auto rebuilt = alloc::Allocator::rebuild(*pool, {}, live, threads);
    if (!rebuilt) {
      r.problems.push_back(rebuilt.status().message());
      return r;
    }
    heap = std::move(*rebuilt);
    auto rc = heap->find_reclaimed([&](uint32_t id) { return classes->find(id) != nullptr; },
                                   replay->segments);
    r.reclaimable_objects = rc.objects;
    r.reclaimable_bytes = rc.bytes;
  } else {
    uint64_t shown = 0;
    live.for_each(live.begin(), live.end(), [&](uint64_t hdr) {
      if (heap->is_allocated(hdr)) return;
      if (shown++ < 10)
        r.problems.push_back(
            fmt::format("reachable object at {} is free in the heap (it would be overwritten)",
                        hdr + kObjectHeaderSize));
    });
    if (shown > 10) r.problems.push_back(fmt::format("... {} such objects in all", shown));
  }
  heap->for_each_allocated([&](uint64_t hdr, uint64_t bytes) {
    ++r.allocated_objects;
    r.allocated_bytes += bytes;
    if (!live.test(hdr)) {
      ++r.leaked_objects;
      r.leaked_bytes += bytes;
    }
  });
  if (r.leaked_objects != 0)
    r.problems.push_back(fmt::format("{} objects ({} bytes) are allocated but unreachable (leak)",
                                     r.leaked_objects, r.leaked_bytes));
  return r;
}

}  // namespace nvobj::recovery

// Per-thread counters of persistence work: cache lines written back, fences
// issued and bytes written back. They are the cost model's unit of account
// (DESIGN.md "Cost model"): benchmarks report fences/op and write-backs/op
// from them, tests assert exact counts.
//
// Each thread owns one cache-line-sized slot and is the only writer of it, so
// counting writes no shared line; readers sum the slots under a mutex. A slot
// is returned to a pool when its thread exits and its counts fold into a
// "retired" total, so totals stay exact across thread churn.
#ifndef NVOBJ_RUNTIME_PERSIST_STATS_H_
#define NVOBJ_RUNTIME_PERSIST_STATS_H_

#include <atomic>
#include <cstdint>
#include <vector>

namespace nvobj {

struct PersistCounters {
  uint64_t writebacks = 0;  // cache lines (64 B) written back
  uint64_t fences = 0;      // ordering/durability fences
  uint64_t bytes = 0;       // bytes the callers asked to write back

  PersistCounters& operator+=(const PersistCounters& o) {
    writebacks += o.writebacks;
    fences += o.fences;
    bytes += o.bytes;
    return *this;
  }
  friend PersistCounters operator-(PersistCounters a, const PersistCounters& b) {
    a.writebacks -= b.writebacks;
    a.fences -= b.fences;
    a.bytes -= b.bytes;
    return a;
  }
  friend bool operator==(const PersistCounters&, const PersistCounters&) = default;
};

struct ThreadPersistCounters {
  uint64_t thread_index;  // dense index assigned at a thread's first count
  PersistCounters counters;
};

// Counters of the calling thread since it started.
PersistCounters thread_persist_counters();
// Sum over every thread, live or exited, since the process started.
PersistCounters total_persist_counters();
// One entry per live thread that has counted anything.
std::vector<ThreadPersistCounters> per_thread_persist_counters();

namespace detail {

struct alignas(64) CounterSlot {
  std::atomic<uint64_t> writebacks{0};
  std::atomic<uint64_t> fences{0};
  std::atomic<uint64_t> bytes{0};
  uint64_t thread_index = 0;
  CounterSlot* next_free = nullptr;
};
static_assert(sizeof(CounterSlot) == 64);

CounterSlot* register_counter_slot();
inline thread_local CounterSlot* tls_counter_slot = nullptr;

inline CounterSlot& counter_slot() {
  CounterSlot* s = tls_counter_slot;
  if (__builtin_expect(s == nullptr, 0)) s = register_counter_slot();
  return *s;
}

// Single-writer increment: a relaxed load and store, not a locked RMW.
inline void bump(std::atomic<uint64_t>& a, uint64_t d) {
  a.store(a.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

}  // namespace detail
}  // namespace nvobj

#endif  // NVOBJ_RUNTIME_PERSIST_STATS_H_

#include "runtime/persist_stats.h"

#include <mutex>

namespace nvobj {
namespace detail {
namespace {

struct Registry {
  std::mutex mu;
  std::vector<CounterSlot*> live;
  CounterSlot* free_list = nullptr;
  PersistCounters retired;
  uint64_t next_index = 0;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: threads may exit late
  return *r;
}

PersistCounters snapshot(const CounterSlot& s) {
  PersistCounters c;
  c.writebacks = s.writebacks.load(std::memory_order_relaxed);
  c.fences = s.fences.load(std::memory_order_relaxed);
  c.bytes = s.bytes.load(std::memory_order_relaxed);
  return c;
}

// Returns the thread's slot to the registry when the thread exits.
struct SlotReleaser {
  ~SlotReleaser() {
    CounterSlot* s = tls_counter_slot;
    if (s == nullptr) return;
    Registry& r = registry();
    std::lock_guard lock(r.mu);
    r.retired += snapshot(*s);
    s->writebacks.store(0, std::memory_order_relaxed);
    s->fences.store(0, std::memory_order_relaxed);
    s->bytes.store(0, std::memory_order_relaxed);
    std::erase(r.live, s);
    s->next_free = r.free_list;
    r.free_list = s;
    tls_counter_slot = nullptr;
  }
};

}  // namespace

CounterSlot* register_counter_slot() {
  static thread_local SlotReleaser releaser;
  (void)releaser;  // odr-use so the destructor runs at thread exit
  Registry& r = registry();
  std::lock_guard lock(r.mu);
  CounterSlot* s = r.free_list;
  if (s != nullptr) {
    r.free_list = s->next_free;
    s->next_free = nullptr;
  } else {
    s = new CounterSlot();
  }
  s->thread_index = r.next_index++;
  r.live.push_back(s);
  tls_counter_slot = s;
  return s;
}

}  // namespace detail

PersistCounters thread_persist_counters() { return detail::snapshot(detail::counter_slot()); }

PersistCounters total_persist_counters() {
  detail::Registry& r = detail::registry();
  std::lock_guard lock(r.mu);
  PersistCounters sum = r.retired;
  for (const detail::CounterSlot* s : r.live) sum += detail::snapshot(*s);
  return sum;
}

std::vector<ThreadPersistCounters> per_thread_persist_counters() {
  detail::Registry& r = detail::registry();
  std::lock_guard lock(r.mu);
  std::vector<ThreadPersistCounters> out;
  out.reserve(r.live.size());
  for (const detail::CounterSlot* s : r.live)
    out.push_back({s->thread_index, detail::snapshot(*s)});
  return out;
}

}  // namespace nvobj

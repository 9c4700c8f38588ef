#include "runtime/group_commit.h"

#include <algorithm>
#include <atomic>
#include <utility>
#include <vector>

#include "runtime/store.h"

namespace nvobj {

namespace {

// Threads that opened a scope hold a slot: its epoch counts their commits,
// so that any thread can tell whether a ticket's commit is done.
constexpr uint32_t kMaxSlots = 1024;
constexpr uint32_t kNoGroupSlot = UINT32_MAX;
static_assert(uint64_t{kMaxSlots} << CommitTicket::kEpochBits != 0);

struct alignas(64) Slot {
  std::atomic<uint64_t> durable_epoch{0};  // commits done
  std::atomic<bool> taken{false};
};
Slot slots[kMaxSlots];

uint32_t take_slot() {
  for (uint32_t i = 0; i < kMaxSlots; ++i) {
    if (!slots[i].taken.load(std::memory_order_relaxed) &&
        !slots[i].taken.exchange(true, std::memory_order_acquire))
      return i;
  }
  return kNoGroupSlot;  // the thread fences as if it had no scope
}

struct ThreadGroup {
  uint32_t depth = 0;
  uint32_t slot = kNoGroupSlot;
  // Deferred: updates of one store (another store's first deferral commits
  // these), their write-backs, and how many.
  const Store* store = nullptr;
  std::vector<std::pair<const void*, size_t>> writebacks;
  uint32_t deferred = 0;

  ~ThreadGroup() {
    // Scopes are stack objects: none is open when the thread exits.
    if (slot != kNoGroupSlot) slots[slot].taken.store(false, std::memory_order_release);
  }
};
thread_local ThreadGroup tls_group;
// What every update asks, in plain words: tls_group has a destructor, so
// each use of it goes through a call that checks its construction, ~20
// instructions, several times an update (~150 a queue pair). Kept equal
// to tls_group.depth != 0 && slot != kNoGroupSlot, and to tls_group.store.
constinit thread_local bool tls_deferring = false;
constinit thread_local const Store* tls_store = nullptr;

// This thread's group, deferring on `store` (work deferred on another
// store is committed first), or null when no scope is open.
ThreadGroup* deferring_on(const Store& store) {
  if (!tls_deferring) return nullptr;
  ThreadGroup& g = tls_group;
  if (g.store != &store) {
    GroupCommit::flush();
    g.store = &store;
    tls_store = &store;
  }
  return &g;
}

}  // namespace

bool CommitTicket::durable() const {
  uint64_t epoch = raw_ & ((uint64_t{1} << kEpochBits) - 1);
  if (epoch == 0) return true;
  const Slot& s = slots[raw_ >> kEpochBits];
  return s.durable_epoch.load(std::memory_order_acquire) >= epoch;
}

GroupCommit::GroupCommit() {
  ThreadGroup& g = tls_group;
  if (g.slot == kNoGroupSlot) g.slot = take_slot();
  ++g.depth;
  tls_deferring = g.slot != kNoGroupSlot;
}

GroupCommit::~GroupCommit() {
  ThreadGroup& g = tls_group;
  if (--g.depth == 0) {
    tls_deferring = false;
    flush();
  }
}

bool GroupCommit::defer(const Store& store, CommitTicket* ticket) {
  ThreadGroup* group = deferring_on(store);
  if (group == nullptr) return false;
  ThreadGroup& g = *group;
  uint64_t epoch = slots[g.slot].durable_epoch.load(std::memory_order_relaxed) + 1;
  *ticket = CommitTicket((uint64_t{g.slot} << CommitTicket::kEpochBits) | epoch);
  if (++g.deferred >= kMaxDeferred) flush();
  return true;
}

bool GroupCommit::defer_writeback(const Store& store, const void* p, size_t n) {
  ThreadGroup* group = deferring_on(store);
  if (group == nullptr) return false;
  ThreadGroup& g = *group;
  if (!g.writebacks.empty()) {
    auto& [q, m] = g.writebacks.back();
    if (static_cast<const char*>(q) + m == p) {  // records follow each other
      m += n;
      return true;
    }
  }
  g.writebacks.emplace_back(p, n);
  return true;
}

bool GroupCommit::deferring() { return tls_deferring; }

bool GroupCommit::pending(const Store& store) {
  if (tls_store != &store) return false;
  const ThreadGroup& g = tls_group;
  return g.deferred != 0 || !g.writebacks.empty();
}

void GroupCommit::flush() {
  if (tls_store == nullptr) return;
  tls_store->durable_fence();  // issues the write-backs (drain()) and publishes (committed())
}

bool GroupCommit::drain(const Store& store) {
  if (tls_store != &store) return false;
  ThreadGroup& g = tls_group;
  for (auto [p, n] : g.writebacks) store.pool().persister().pwb(p, n);
  g.writebacks.clear();
  return true;
}

void GroupCommit::committed() {
  ThreadGroup& g = tls_group;
  if (g.deferred != 0) {
    Slot& s = slots[g.slot];
    s.durable_epoch.store(s.durable_epoch.load(std::memory_order_relaxed) + 1,
                          std::memory_order_release);
  }
  g.deferred = 0;
  g.store = nullptr;
  tls_store = nullptr;
}

}  // namespace nvobj

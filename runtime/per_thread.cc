#include "runtime/per_thread.h"

#include <atomic>
#include <mutex>
#include <unordered_map>
#include <utility>
#include <vector>

namespace nvobj {

namespace {

std::mutex& registry_mu() {
  static std::mutex mu;
  return mu;
}
// Live owners by uid. Leaked on purpose: threads may exit after static
// destruction has begun.
std::unordered_map<uint64_t, PerThreadOwner*>& registry() {
  static auto* r = new std::unordered_map<uint64_t, PerThreadOwner*>;
  return *r;
}
std::atomic<uint64_t> next_uid{1};

struct Slot {
  uint64_t uid;
  void* state;
};

}  // namespace

struct PerThreadAccess {
  static void release(PerThreadOwner* o, void* state) { o->release_thread_state(state); }
};

namespace {

struct ThreadSlots {
  std::vector<Slot> slots;  // most recently used first
  ~ThreadSlots() {
    std::lock_guard lock(registry_mu());
    for (const Slot& s : slots) {
      auto it = registry().find(s.uid);
      if (it != registry().end()) PerThreadAccess::release(it->second, s.state);
    }
  }
};
thread_local ThreadSlots tls_slots;

}  // namespace

PerThreadOwner::PerThreadOwner() : uid_(next_uid.fetch_add(1)) {
  std::lock_guard lock(registry_mu());
  registry()[uid_] = this;
}

PerThreadOwner::~PerThreadOwner() { unregister_owner(); }

void PerThreadOwner::unregister_owner() {
  if (!registered_) return;
  std::lock_guard lock(registry_mu());
  registry().erase(uid_);
  registered_ = false;
}

void* PerThreadOwner::thread_state() {
  auto& slots = tls_slots.slots;
  if (!slots.empty() && slots[0].uid == uid_) return slots[0].state;
  for (size_t i = 1; i < slots.size(); ++i) {
    if (slots[i].uid == uid_) {
      std::swap(slots[0], slots[i]);
      return slots[0].state;
    }
  }
  if (slots.size() >= 8) {  // forget owners that are gone
    std::lock_guard lock(registry_mu());
    std::erase_if(slots, [](const Slot& s) { return !registry().contains(s.uid); });
  }
  void* state = make_thread_state();
  slots.insert(slots.begin(), Slot{uid_, state});
  return state;
}

}  // namespace nvobj

// KeyLocks: the per-key mutual exclusion the command layer provides to the
// backends (backend.h's concurrency contract). A command holds its keys'
// stripes for its whole run, so a type check and the typed call after it,
// or a read-modify-write of a container, are atomic for the key.
//
// Keys hash onto a fixed set of reader-writer stripes: reads share, writes
// exclude. Commands on several keys take their stripes in index order (no
// deadlock); FLUSHALL and KEYS take them all.
#ifndef NVOBJ_DSO_BACKEND_KEY_LOCKS_H_
#define NVOBJ_DSO_BACKEND_KEY_LOCKS_H_

#include <algorithm>
#include <array>
#include <cstddef>
#include <functional>
#include <shared_mutex>
#include <string_view>
#include <vector>

namespace nvobj::dso {

class KeyLocks {
 public:
  static constexpr size_t kStripes = 1024;

  size_t stripe(std::string_view key) const {
    return std::hash<std::string_view>{}(key) % kStripes;
  }
  std::shared_mutex& at(size_t i) { return stripes_[i].mu; }

  // Holds the stripes of `keys` (exclusive or shared) until destroyed.
  class Guard {
   public:
    Guard(KeyLocks& locks, const std::vector<std::string_view>& keys, bool exclusive)
        : locks_(locks), exclusive_(exclusive) {
      held_.reserve(keys.size());
      for (std::string_view k : keys) held_.push_back(locks.stripe(k));
      std::sort(held_.begin(), held_.end());
      held_.erase(std::unique(held_.begin(), held_.end()), held_.end());
      for (size_t i : held_) exclusive_ ? locks_.at(i).lock() : locks_.at(i).lock_shared();
    }
    // Every stripe, exclusively.
    explicit Guard(KeyLocks& locks) : locks_(locks), exclusive_(true) {
      held_.resize(kStripes);
      for (size_t i = 0; i < kStripes; ++i) held_[i] = i;
      for (size_t i : held_) locks_.at(i).lock();
    }
    ~Guard() {
      for (auto it = held_.rbegin(); it != held_.rend(); ++it)
        exclusive_ ? locks_.at(*it).unlock() : locks_.at(*it).unlock_shared();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    KeyLocks& locks_;
    bool exclusive_;
    std::vector<size_t> held_;
  };

 private:
  struct alignas(64) Stripe {
    std::shared_mutex mu;
  };
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_KEY_LOCKS_H_

// KeyLocks: the per-key mutual exclusion the command layer provides to the
// backends (backend.h's concurrency contract). A command holds its keys'
// stripes for its whole run, so a type check and the typed call after it,
// or a read-modify-write of a container, are atomic for the key.
//
// Keys hash onto a fixed set of reader-writer stripes: reads share, writes
// exclude. Commands on several keys take their stripes in index order (no
// deadlock). Commands on every key (FLUSHALL, KEYS, SCAN) take one global
// lock exclusively, which every keyed command holds shared before its
// stripes: one lock instead of 1,024 (ThreadSanitizer's deadlock detector
// tracks at most 64 held locks per thread, and taking 1,024 was slow).
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
  // Above this many distinct stripes a command takes the global lock
  // instead (fewer locks held; TSan's limit again).
  static constexpr size_t kMaxStripesHeld = 32;

  size_t stripe(std::string_view key) const {
    return std::hash<std::string_view>{}(key) % kStripes;
  }
  std::shared_mutex& at(size_t i) { return stripes_[i].mu; }

  // Holds the stripes of `keys` (exclusive or shared) until destroyed.
  class Guard {
   public:
    Guard(KeyLocks& locks, const std::vector<std::string_view>& keys, bool exclusive)
        : locks_(locks), exclusive_(exclusive), all_(false) {
      held_.reserve(keys.size());
      for (std::string_view k : keys) held_.push_back(locks.stripe(k));
      std::sort(held_.begin(), held_.end());
      held_.erase(std::unique(held_.begin(), held_.end()), held_.end());
      if (held_.size() > kMaxStripesHeld) {  // a command on many keys: hold them all
        held_.clear();
        all_ = true;
        locks_.all_.lock();
        return;
      }
      locks_.all_.lock_shared();
      for (size_t i : held_) exclusive_ ? locks_.at(i).lock() : locks_.at(i).lock_shared();
    }
    // Every key, exclusively.
    explicit Guard(KeyLocks& locks) : locks_(locks), exclusive_(true), all_(true) {
      locks_.all_.lock();
    }
    ~Guard() {
      if (all_) {
        locks_.all_.unlock();
        return;
      }
      for (auto it = held_.rbegin(); it != held_.rend(); ++it)
        exclusive_ ? locks_.at(*it).unlock() : locks_.at(*it).unlock_shared();
      locks_.all_.unlock_shared();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    KeyLocks& locks_;
    bool exclusive_;
    bool all_;
    std::vector<size_t> held_;
  };

 private:
  struct alignas(64) Stripe {
    std::shared_mutex mu;
  };
  alignas(64) std::shared_mutex all_;
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_KEY_LOCKS_H_

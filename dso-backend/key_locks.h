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
#include <concepts>
#include <cstddef>
#include <functional>
#include <shared_mutex>
#include <string_view>
#include <vector>

namespace nvobj::dso {

// A callable that passes each key of a command to the function it is given.
template <typename F>
concept KeyVisitor = std::invocable<F, void (*)(std::string_view)>;

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

  // Holds the stripes of some keys (exclusive or shared) until destroyed.
  // Without allocating: the stripes are kept in a small sorted array.
  class Guard {
   public:
    // for_each_key(take) calls take(key) for each key.
    template <KeyVisitor ForEachKey>
    Guard(KeyLocks& locks, ForEachKey&& for_each_key, bool exclusive)
        : locks_(locks), exclusive_(exclusive) {
      for_each_key([&](std::string_view k) { add(locks.stripe(k)); });
      if (all_) {  // a command on many keys: hold them all
        locks_.all_.lock();
        return;
      }
      locks_.all_.lock_shared();
      for (size_t i = 0; i < n_; ++i)
        exclusive_ ? locks_.at(held_[i]).lock() : locks_.at(held_[i]).lock_shared();
    }
    Guard(KeyLocks& locks, const std::vector<std::string_view>& keys, bool exclusive)
        : Guard(
              locks,
              [&](auto&& take) {
                for (std::string_view k : keys) take(k);
              },
              exclusive) {}
    // Every key, exclusively.
    explicit Guard(KeyLocks& locks) : locks_(locks), exclusive_(true), all_(true) {
      locks_.all_.lock();
    }
    ~Guard() {
      if (all_) {
        locks_.all_.unlock();
        return;
      }
      for (size_t i = n_; i-- > 0;)
        exclusive_ ? locks_.at(held_[i]).unlock() : locks_.at(held_[i]).unlock_shared();
      locks_.all_.unlock_shared();
    }
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

    bool holds_all() const { return all_; }
    size_t stripes_held() const { return n_; }

   private:
    // Inserts stripe s in order, once; past kMaxStripesHeld, all_ instead.
    void add(size_t s) {
      if (all_) return;
      size_t at = 0;
      while (at < n_ && held_[at] < s) ++at;
      if (at < n_ && held_[at] == s) return;
      if (n_ == kMaxStripesHeld) {
        all_ = true;
        n_ = 0;
        return;
      }
      for (size_t i = n_; i > at; --i) held_[i] = held_[i - 1];
      held_[at] = static_cast<uint16_t>(s);
      ++n_;
    }

    KeyLocks& locks_;
    bool exclusive_;
    bool all_ = false;
    size_t n_ = 0;
    std::array<uint16_t, kMaxStripesHeld> held_;
  };
  static_assert(kStripes <= 65536);

 private:
  struct alignas(64) Stripe {
    std::shared_mutex mu;
  };
  alignas(64) std::shared_mutex all_;
  std::array<Stripe, kStripes> stripes_;
};

}  // namespace nvobj::dso

#endif  // NVOBJ_DSO_BACKEND_KEY_LOCKS_H_

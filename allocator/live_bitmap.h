// One bit per 16-byte granule of the heap, set at the header of each live
// object. Recovery's marking fills it (from many threads); the allocator
// rebuilds its state from it.
#ifndef NVOBJ_ALLOCATOR_LIVE_BITMAP_H_
#define NVOBJ_ALLOCATOR_LIVE_BITMAP_H_

#include <atomic>
#include <cstdint>
#include <memory>

#include "runtime/object_header.h"
#include "runtime/zeroed_array.h"

namespace nvobj::alloc {

class LiveBitmap {
 public:
  LiveBitmap(uint64_t heap_begin, uint64_t heap_end)
      : begin_(heap_begin),
        end_(heap_end),
        nwords_((heap_end - heap_begin) / kObjectGranule / 64 + 1),
        words_(nwords_) {}

  uint64_t begin() const { return begin_; }
  uint64_t end() const { return end_; }
  bool in_range(uint64_t header_off) const { return header_off >= begin_ && header_off < end_; }

  // Sets the bit of the object whose header is at `header_off`; true if this
  // call set it (the caller then owns visiting the object).
  bool mark(uint64_t header_off) {
    uint64_t g = (header_off - begin_) / kObjectGranule;
    uint64_t bit = uint64_t{1} << (g % 64);
    return (words_[g / 64].fetch_or(bit, std::memory_order_relaxed) & bit) == 0;
  }
  bool test(uint64_t header_off) const {
    uint64_t g = (header_off - begin_) / kObjectGranule;
    return (words_[g / 64].load(std::memory_order_relaxed) >> (g % 64)) & 1;
  }
  // Calls f(header_off) for each set bit in [from, to), in address order.
  template <typename F>
  void for_each(uint64_t from, uint64_t to, F&& f) const {
    uint64_t g0 = (from - begin_) / kObjectGranule, g1 = (to - begin_) / kObjectGranule;
    for (uint64_t g = g0; g < g1;) {
      uint64_t w = words_[g / 64].load(std::memory_order_relaxed) >> (g % 64);
      if (w == 0) {
        g = (g / 64 + 1) * 64;
        continue;
      }
      g += static_cast<uint64_t>(__builtin_ctzll(w));
      if (g >= g1) break;
      f(begin_ + g * kObjectGranule);
      ++g;
    }
  }

 private:
  uint64_t begin_, end_, nwords_;
  ZeroedArray<std::atomic<uint64_t>> words_;
};

}  // namespace nvobj::alloc

#endif  // NVOBJ_ALLOCATOR_LIVE_BITMAP_H_

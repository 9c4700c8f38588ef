// BlockDeque: a double-ended array in blocks of 2^shift elements, for
// PList's volatile index. Like std::deque, both ends grow in O(1) without
// moving elements and element i is found by arithmetic; unlike libstdc++'s
// deque, whose blocks are 512 bytes (6 list elements), its blocks grow with
// the deque up to 2^kMaxShift elements, so a list growing by millions costs
// one allocation per few hundred pushes, while a short list keeps one small
// block (8 elements). Indexing is a shift and a mask.
//
// Blocks double (all elements regrouped, O(n), amortised O(1) per push)
// when a deque spans more than kRegroupBlocks of them, until they reach
// 2^kMaxShift elements; an emptied deque starts over with small blocks.
// Elements are addressed by index only; insert/erase in the middle move the
// shorter side by one. Not thread-safe (the index's lock guards it).
#ifndef NVOBJ_POBJECTS_BLOCK_DEQUE_H_
#define NVOBJ_POBJECTS_BLOCK_DEQUE_H_

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <new>
#include <utility>
#include <vector>

#include "runtime/prefault.h"

namespace nvobj::detail {

template <typename T, unsigned kMaxShift = 9, unsigned kMinShift = (kMaxShift < 3 ? kMaxShift : 3)>
class BlockDeque {
  static_assert(kMinShift <= kMaxShift);

 public:
  static constexpr size_t kRegroupBlocks = 8;

  BlockDeque() = default;
  BlockDeque(const BlockDeque&) = delete;
  BlockDeque& operator=(const BlockDeque&) = delete;
  ~BlockDeque() { clear(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  size_t block_size() const { return size_t{1} << shift_; }

  T& operator[](size_t i) {
    assert(i < size_);
    size_t a = first_ + i;
    return map_[begin_ + (a >> shift_)][a & (block_size() - 1)];
  }
  const T& operator[](size_t i) const { return const_cast<BlockDeque&>(*this)[i]; }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }

  void push_back(T v) {
    if (((first_ + size_) >> shift_) == end_ - begin_) grow_back();
    ++size_;
    back() = std::move(v);
  }
  void push_front(T v) {
    if (first_ == 0) grow_front();
    --first_;
    ++size_;
    front() = std::move(v);
  }
  void pop_back() {
    assert(size_ > 0);
    back() = T{};
    --size_;
    if (size_ == 0) return clear();
    if (((first_ + size_ - 1) >> shift_) + 1 < end_ - begin_) drop_block(--end_);
  }
  void pop_front() {
    assert(size_ > 0);
    front() = T{};
    --size_;
    if (size_ == 0) return clear();
    if (++first_ == block_size()) {
      drop_block(begin_++);
      first_ = 0;
    }
  }

  // Makes v element i (0 <= i <= size()), moving the shorter side.
  void insert(size_t i, T v) {
    assert(i <= size_);
    if (i == size_) return push_back(std::move(v));
    if (i < size_ / 2) {
      push_front(T{});
      for (size_t k = 0; k < i; ++k) (*this)[k] = std::move((*this)[k + 1]);
    } else {
      push_back(T{});
      for (size_t k = size_ - 1; k > i; --k) (*this)[k] = std::move((*this)[k - 1]);
    }
    (*this)[i] = std::move(v);
  }
  void erase(size_t i) {
    assert(i < size_);
    if (i < size_ / 2) {
      for (size_t k = i; k > 0; --k) (*this)[k] = std::move((*this)[k - 1]);
      pop_front();
    } else {
      for (size_t k = i; k + 1 < size_; ++k) (*this)[k] = std::move((*this)[k + 1]);
      pop_back();
    }
  }

  // Frees every block: an emptied deque starts over with small ones.
  void clear() {
    for (size_t b = begin_; b < end_; ++b) free_block(map_[b], block_size());
    map_.clear();
    map_.shrink_to_fit();
    begin_ = end_ = first_ = size_ = 0;
    if (spare_ != nullptr) free_block(std::exchange(spare_, nullptr), block_size());
    shift_ = kMinShift;
  }

  // DRAM held: blocks (including the spare) and the block map.
  size_t dram_bytes() const {
    return (end_ - begin_ + (spare_ != nullptr ? 1 : 0)) * block_size() * sizeof(T) +
           map_.capacity() * sizeof(T*);
  }

 private:
  static constexpr size_t kMinMap = 8;

  // A block of n value-initialised elements. Its whole pages are mapped in
  // one call first (runtime/prefault.h): a list growing by millions would
  // otherwise take a page fault every 85 elements.
  static T* alloc_block(size_t n) {
    void* p = ::operator new (n * sizeof(T), std::align_val_t{alignof(T)});
    if (n * sizeof(T) >= 8192) prefault_pages(p, n * sizeof(T));
    T* t = static_cast<T*>(p);
    std::uninitialized_value_construct_n(t, n);
    return t;
  }
  static void free_block(T* t, size_t n) {
    std::destroy_n(t, n);
    ::operator delete (t, std::align_val_t{alignof(T)});
  }
  T* new_block() {
    if (spare_ != nullptr) return std::exchange(spare_, nullptr);  // elements reset to T{}
    return alloc_block(block_size());
  }
  void drop_block(size_t b) {
    T* blk = std::exchange(map_[b], nullptr);
    if (spare_ == nullptr)
      spare_ = blk;
    else
      free_block(blk, block_size());
  }
  // Re-centres the used part of the map, growing it when more than half full.
  void recentre() {
    size_t used = end_ - begin_;
    size_t cap = std::max(kMinMap, map_.size());
    if (used * 2 + 2 > cap) cap *= 2;
    std::vector<T*> m(cap, nullptr);
    size_t nb = (cap - used) / 2;
    for (size_t b = 0; b < used; ++b) m[nb + b] = map_[begin_ + b];
    map_ = std::move(m);
    begin_ = nb;
    end_ = nb + used;
  }
  // Moves the elements into blocks twice as large, starting halfway into
  // the first (room at both ends). False if the blocks stay as they are.
  bool maybe_regroup() {
    if (end_ - begin_ < kRegroupBlocks || shift_ >= kMaxShift) return false;
    const unsigned shift = shift_ + 1;
    const size_t bs = size_t{1} << shift;
    const size_t first = bs / 2;
    const size_t blocks = (first + size_ + bs - 1) / bs;
    std::vector<T*> m(std::max(kMinMap, blocks * 2 + 2), nullptr);
    const size_t nb = (m.size() - blocks) / 2;
    size_t made = 0;
    try {
      for (; made < blocks; ++made) m[nb + made] = alloc_block(bs);
    } catch (...) {  // no memory: the deque stays as it was
      for (size_t b = 0; b < made; ++b) free_block(m[nb + b], bs);
      throw;
    }
    for (size_t i = 0; i < size_; ++i) {
      size_t a = first + i;
      m[nb + (a >> shift)][a & (bs - 1)] = std::move((*this)[i]);
    }
    for (size_t b = begin_; b < end_; ++b) free_block(map_[b], block_size());
    if (spare_ != nullptr) free_block(std::exchange(spare_, nullptr), block_size());
    begin_ = nb;
    end_ = begin_ + blocks;
    map_ = std::move(m);
    first_ = first;
    shift_ = shift;
    return true;
  }
  void grow_back() {
    if (maybe_regroup() && ((first_ + size_) >> shift_) < end_ - begin_) return;
    if (end_ == map_.size()) recentre();
    map_[end_++] = new_block();
  }
  void grow_front() {
    if (maybe_regroup()) return;  // first_ > 0 after it
    if (begin_ == 0) recentre();
    map_[--begin_] = new_block();
    first_ = block_size();
  }

  std::vector<T*> map_;  // blocks in order occupy [begin_, end_)
  size_t begin_ = 0, end_ = 0;
  size_t first_ = 0;  // slot of element 0 in block begin_
  size_t size_ = 0;
  unsigned shift_ = kMinShift;
  T* spare_ = nullptr;  // a dropped block of block_size(), kept for the next
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_BLOCK_DEQUE_H_

// BlockDeque: a double-ended array in fixed blocks of 2^kShift elements,
// for PList's volatile index. Like std::deque, both ends grow in O(1)
// without moving elements and element i is found by arithmetic; unlike
// libstdc++'s deque, whose blocks are 512 bytes (6 list elements), its
// blocks hold hundreds of elements, so a list growing by millions costs one
// allocation per block rather than one per handful of pushes, and indexing
// is a shift and a mask.
//
// Elements are addressed by index only; insert/erase in the middle move the
// shorter side by one. Not thread-safe (the index's lock guards it).
#ifndef NVOBJ_POBJECTS_BLOCK_DEQUE_H_
#define NVOBJ_POBJECTS_BLOCK_DEQUE_H_

#include <cassert>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <utility>
#include <vector>

namespace nvobj::detail {

template <typename T, unsigned kShift = 9>
class BlockDeque {
 public:
  static constexpr size_t kBlock = size_t{1} << kShift;

  BlockDeque() = default;
  BlockDeque(const BlockDeque&) = delete;
  BlockDeque& operator=(const BlockDeque&) = delete;
  ~BlockDeque() { clear(); }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  T& operator[](size_t i) {
    assert(i < size_);
    size_t a = first_ + i;
    return map_[begin_ + (a >> kShift)][a & (kBlock - 1)];
  }
  const T& operator[](size_t i) const { return const_cast<BlockDeque&>(*this)[i]; }
  T& front() { return (*this)[0]; }
  T& back() { return (*this)[size_ - 1]; }

  void push_back(T v) {
    size_t a = first_ + size_;
    if ((a >> kShift) == end_ - begin_) add_block_back();
    map_[begin_ + (a >> kShift)][a & (kBlock - 1)] = std::move(v);
    ++size_;
  }
  void push_front(T v) {
    if (first_ == 0) {
      add_block_front();
      first_ = kBlock;
    }
    --first_;
    ++size_;
    (*this)[0] = std::move(v);
  }
  void pop_back() {
    assert(size_ > 0);
    back() = T{};
    --size_;
    if (size_ == 0) return reset();
    if (((first_ + size_ - 1) >> kShift) + 1 < end_ - begin_) drop_block(--end_);
  }
  void pop_front() {
    assert(size_ > 0);
    front() = T{};
    --size_;
    if (size_ == 0) return reset();
    if (++first_ == kBlock) {
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

  void clear() {
    for (size_t b = begin_; b < end_; ++b) drop_block(b);
    map_.clear();
    begin_ = end_ = first_ = size_ = 0;
    spare_.reset();
  }

  // DRAM held: blocks (including the spare) and the block map.
  size_t dram_bytes() const {
    return (end_ - begin_ + (spare_ ? 1 : 0)) * kBlock * sizeof(T) + map_.capacity() * sizeof(T*);
  }

 private:
  // An emptied deque keeps its last block (a queue drained and refilled
  // allocates nothing) but not the map it grew, and restarts in the middle
  // of the block so that both ends have room.
  void reset() {
    first_ = kBlock / 2;
    if (end_ - begin_ > 1) drop_block(--end_);
    if (map_.size() > kMinMap) {
      std::vector<T*> m(kMinMap, nullptr);
      m[kMinMap / 2] = map_[begin_];
      map_ = std::move(m);
      begin_ = kMinMap / 2;
      end_ = begin_ + 1;
    }
  }
  std::unique_ptr<T[]> new_block() {
    if (spare_) return std::move(spare_);
    return std::make_unique<T[]>(kBlock);
  }
  void drop_block(size_t b) {
    std::unique_ptr<T[]> blk(map_[b]);
    map_[b] = nullptr;
    if (!spare_) spare_ = std::move(blk);  // elements already reset to T{}
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
  void add_block_back() {
    if (end_ == map_.size()) recentre();
    map_[end_++] = new_block().release();
  }
  void add_block_front() {
    if (begin_ == 0) recentre();
    map_[--begin_] = new_block().release();
  }

  static constexpr size_t kMinMap = 8;

  std::vector<T*> map_;  // blocks in order occupy [begin_, end_)
  size_t begin_ = 0, end_ = 0;
  size_t first_ = 0;  // slot of element 0 in block begin_
  size_t size_ = 0;
  std::unique_ptr<T[]> spare_;
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_BLOCK_DEQUE_H_

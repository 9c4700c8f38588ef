// ListIndex: PList's volatile index. A list is a map from positions (byte
// strings, see plist.cc) to values; the index keeps the present elements in
// a BlockDeque sorted by position, so that element i is one array access
// away and both ends grow in O(1), and removed positions (tombstones, see
// map_core.h) in a separate hash map. One reader-writer spin lock.
//
// An element is 48 bytes: nearly every position is exactly 8 bytes (a
// major number, no fraction), kept as a big-endian number; the rare longer
// ones (insertions between adjacent elements) are kept whole beside it.
//
// The empty key is no position: it is the list's own entry (PList's
// trims), kept apart from the elements; size(), entry(i) and pos(i) do not
// count it.
#ifndef NVOBJ_POBJECTS_LIST_INDEX_H_
#define NVOBJ_POBJECTS_LIST_INDEX_H_

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include <oneapi/tbb/spin_rw_mutex.h>

#include "pobjects/block_deque.h"
#include "pobjects/map_core.h"

namespace nvobj::detail {

class ListIndex {
 public:
  // No hash: lookups go by position, the tombstones' map hashes the string
  // itself, and MapCore's stripes (what it would pick) are not taken for a
  // list (its updates are serialised by PList).
  struct Key {
    std::string_view s;
    uint64_t hash;
  };
  static Key key(std::string_view s) { return {s, 0}; }

  struct Elem {
    uint64_t head = 0;                      // the position's first 8 bytes as a big-endian number
                                            // (zero-padded): most comparisons end there
    std::unique_ptr<std::string> long_pos;  // the whole position unless it is 8 bytes
    MapEntry e;
  };
  static_assert(sizeof(Elem) == 48);

  class SharedLock {
   public:
    SharedLock(ListIndex& ix, const Key&) : lock_(ix.mu_, false) {}
    explicit SharedLock(ListIndex& ix) : lock_(ix.mu_, false) {}

   private:
    tbb::spin_rw_mutex::scoped_lock lock_;
  };
  class ExclusiveLock {
   public:
    ExclusiveLock(ListIndex& ix, const Key&) : lock_(ix.mu_, true) {}
    explicit ExclusiveLock(ListIndex& ix) : lock_(ix.mu_, true) {}

   private:
    tbb::spin_rw_mutex::scoped_lock lock_;
  };

  MapEntry* find(const Key& k) {
    if (k.s.empty()) return meta_ ? &*meta_ : nullptr;
    size_t i = lower(k.s);
    if (i < elems_.size() && equal(elems_[i], k.s)) return &elems_[i].e;
    if (tombs_.empty()) return nullptr;  // (a new position: no hash computed)
    auto t = tombs_.find(k.s);
    return t == tombs_.end() ? nullptr : &t->second;
  }
  // New entries start among the elements; presence_changed() moves them
  // to the tombstones when the caller marks them removed.
  MapEntry& emplace(const Key& k, RecordLog::Loc loc) {
    if (k.s.empty()) {
      if (!meta_) {
        meta_.emplace();
        meta_->loc = loc;
      }
      return *meta_;
    }
    size_t i = lower(k.s);  // once: find() would search again
    if (i < elems_.size() && equal(elems_[i], k.s)) return elems_[i].e;
    if (!tombs_.empty())
      if (auto t = tombs_.find(k.s); t != tombs_.end()) return t->second;
    elems_.insert(i, make_elem(k.s, MapEntry{}));
    MapEntry& e = elems_[i].e;
    e.loc = loc;  // present is set by the caller, then presence_changed()
    return e;
  }
  void erase(const Key& k) {
    if (k.s.empty()) return meta_.reset();
    size_t i = lower(k.s);
    if (i < elems_.size() && equal(elems_[i], k.s))
      elems_.erase(i);
    else if (auto t = tombs_.find(k.s); t != tombs_.end())
      tombs_.erase(t);
  }
  void presence_changed(const Key& k) {
    if (k.s.empty()) return;  // the list's own entry stays where it is
    size_t i = lower(k.s);
    if (i < elems_.size() && equal(elems_[i], k.s)) {
      if (!elems_[i].e.present) {
        tombs_.emplace(std::string(k.s), elems_[i].e);
        elems_.erase(i);
      }
      return;
    }
    if (tombs_.empty()) return;
    auto t = tombs_.find(k.s);
    if (t != tombs_.end() && t->second.present) {
      elems_.insert(lower(t->first), make_elem(t->first, t->second));
      tombs_.erase(t);
    }
  }

  template <typename F, typename Flush>
  void for_each_locked(F&& f, Flush&& flush) {
    {
      tbb::spin_rw_mutex::scoped_lock lock(mu_, false);
      for (size_t i = 0; i < elems_.size(); ++i) {
        char buf[8];
        f(pos_view(elems_[i], buf), elems_[i].e);
      }
      for (const auto& [pos, e] : tombs_) f(std::string_view(pos), e);
      if (meta_) f(std::string_view(), *meta_);
    }
    flush();
  }

  // The present elements in order; under the caller's SharedLock.
  size_t size() const { return elems_.size(); }
  const MapEntry& entry(size_t i) const { return elems_[i].e; }
  // Element i's entry and its removal, by index (under an ExclusiveLock):
  // for a caller that knows where the element is (PList's pops).
  MapEntry& entry_at(size_t i) { return elems_[i].e; }
  void erase_at(size_t i) { elems_.erase(i); }
  std::string pos(size_t i) const {
    char buf[8];
    return std::string(pos_view(elems_[i], buf));
  }
  // The signed major number of element i's position (its first 8 bytes,
  // big-endian with the sign bit flipped: PList's encoding).
  int64_t major(size_t i) const {
    return static_cast<int64_t>(elems_[i].head ^ (uint64_t{1} << 63));
  }

  uint64_t dram_bytes() {
    tbb::spin_rw_mutex::scoped_lock lock(mu_, false);
    uint64_t b = elems_.dram_bytes() +
                 tombs_.size() * (3 * sizeof(void*) + sizeof(std::string) + sizeof(MapEntry)) +
                 tombs_.bucket_count() * sizeof(void*);
    for (size_t i = 0; i < elems_.size(); ++i)
      if (const std::string* p = elems_[i].long_pos.get())
        b += sizeof(std::string) + (p->size() > 15 ? p->capacity() + 1 : 0);
    return b;
  }

 private:
  static uint64_t head_of(std::string_view pos) {
    uint64_t h = 0;  // big-endian load, zero-padded
    std::memcpy(&h, pos.data(), std::min<size_t>(8, pos.size()));
    if constexpr (std::endian::native == std::endian::little) h = __builtin_bswap64(h);
    return h;
  }
  static Elem make_elem(std::string_view pos, const MapEntry& e) {
    Elem el;
    el.head = head_of(pos);
    if (pos.size() != 8) el.long_pos = std::make_unique<std::string>(pos);
    el.e = e;
    return el;
  }
  // The element's position; buf holds it when it is 8 bytes.
  static std::string_view pos_view(const Elem& el, char (&buf)[8]) {
    if (el.long_pos) return *el.long_pos;
    uint64_t h = el.head;
    if constexpr (std::endian::native == std::endian::little) h = __builtin_bswap64(h);
    std::memcpy(buf, &h, 8);
    return std::string_view(buf, 8);
  }
  static bool equal(const Elem& el, std::string_view pos) {
    if (pos.size() != 8) return el.long_pos && *el.long_pos == pos;
    return !el.long_pos && el.head == head_of(pos);
  }
  // The index of the first element not before pos. Appends, prepends and
  // pops work at the ends, so those are checked before the binary search:
  // past either end, or the last element itself (an append, looked up
  // again once it is in).
  size_t lower(std::string_view pos) const {
    uint64_t h = head_of(pos);
    bool short_pos = pos.size() <= 8;
    auto before = [h, pos, short_pos](const Elem& a) {
      if (a.head != h) return a.head < h;
      // Equal heads, an 8-byte element and pos of at most 8 bytes: pos
      // is the element or a prefix of it, so the element is not before
      // it (no string compare for the ends' own lookups).
      if (short_pos && !a.long_pos) return false;
      char buf[8];
      return pos_view(a, buf) < pos;
    };
    size_t n = elems_.size();
    if (n == 0 || before(elems_[n - 1])) return n;
    if (!before(elems_[0])) return 0;
    if (before(elems_[n - 2])) return n - 1;  // n >= 2: elems_[0] is before pos, elems_[n-1] not
    size_t lo = 1, hi = n - 2;                // elems_[lo - 1] is before pos, elems_[hi] is not
    while (lo < hi) {
      size_t mid = lo + (hi - lo) / 2;
      if (before(elems_[mid]))
        lo = mid + 1;
      else
        hi = mid;
    }
    return lo;
  }

  tbb::spin_rw_mutex mu_;
  BlockDeque<Elem> elems_;
  // Removed positions: found by hash (every new position is looked up
  // here too), in no order (nothing walks them in order).
  std::unordered_map<std::string, MapEntry, TransparentHash, std::equal_to<>> tombs_;
  std::optional<MapEntry> meta_;  // the empty key's
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_LIST_INDEX_H_

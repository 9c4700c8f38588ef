// ListIndex: PList's volatile index. A list is a map from positions (byte
// strings, see plist.cc) to values; the index keeps the present elements in
// a deque sorted by position, so that element i is one array access away
// and both ends grow in O(1), and removed positions (tombstones, see
// map_core.h) in a separate ordered map. One reader-writer spin lock.
#ifndef NVOBJ_POBJECTS_LIST_INDEX_H_
#define NVOBJ_POBJECTS_LIST_INDEX_H_

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <oneapi/tbb/spin_rw_mutex.h>

#include "pobjects/map_core.h"

namespace nvobj::detail {

class ListIndex {
 public:
  struct Key {
    std::string_view s;
    uint64_t hash;
  };
  static Key key(std::string_view s) { return {s, std::hash<std::string_view>{}(s)}; }

  struct Elem {
    std::string pos;
    MapEntry e;
    uint64_t head = 0;  // pos's first 8 bytes as a big-endian number: most
                        // comparisons end there (positions are 8 bytes + fraction)
  };

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

   private:
    tbb::spin_rw_mutex::scoped_lock lock_;
  };

  MapEntry* find(const Key& k) {
    auto it = lower(k.s);
    if (it != elems_.end() && it->pos == k.s) return &it->e;
    auto t = tombs_.find(k.s);
    return t == tombs_.end() ? nullptr : &t->second;
  }
  // New entries start among the elements; presence_changed() moves them
  // to the tombstones when the caller marks them removed.
  MapEntry& emplace(const Key& k, RecordLog::Loc loc) {
    if (MapEntry* e = find(k)) return *e;
    auto it = elems_.insert(lower(k.s), Elem{std::string(k.s), MapEntry{}, head_of(k.s)});
    it->e.loc = loc;  // present is set by the caller, then presence_changed()
    return it->e;
  }
  void erase(const Key& k) {
    auto it = lower(k.s);
    if (it != elems_.end() && it->pos == k.s)
      elems_.erase(it);
    else
      tombs_.erase(std::string(k.s));
  }
  void presence_changed(const Key& k) {
    auto it = lower(k.s);
    if (it != elems_.end() && it->pos == k.s) {
      if (!it->e.present) {
        tombs_.emplace(std::move(it->pos), it->e);
        elems_.erase(it);
      }
      return;
    }
    auto t = tombs_.find(k.s);
    if (t != tombs_.end() && t->second.present) {
      elems_.insert(lower(t->first), Elem{t->first, t->second, head_of(t->first)});
      tombs_.erase(t);
    }
  }

  template <typename F, typename Flush>
  void for_each_locked(F&& f, Flush&& flush) {
    {
      tbb::spin_rw_mutex::scoped_lock lock(mu_, false);
      for (const Elem& el : elems_) f(std::string_view(el.pos), el.e);
      for (const auto& [pos, e] : tombs_) f(std::string_view(pos), e);
    }
    flush();
  }

  // Under the caller's SharedLock.
  const std::deque<Elem>& elems() const { return elems_; }

  uint64_t dram_bytes() {
    tbb::spin_rw_mutex::scoped_lock lock(mu_, false);
    uint64_t b = elems_.size() * sizeof(Elem) + tombs_.size() * (4 * sizeof(void*) + sizeof(Elem));
    for (const Elem& el : elems_) b += el.pos.size() > 15 ? el.pos.capacity() + 1 : 0;
    return b;
  }

 private:
  static uint64_t head_of(std::string_view pos) {
    uint64_t h = 0;  // big-endian load, zero-padded
    std::memcpy(&h, pos.data(), std::min<size_t>(8, pos.size()));
    if constexpr (std::endian::native == std::endian::little) h = __builtin_bswap64(h);
    return h;
  }
  // The first element not before pos. Appends, prepends and pops work at
  // the ends, so those are checked before the binary search (a deque's
  // iterator arithmetic makes each of its ~log2(n) steps costly).
  std::deque<Elem>::iterator lower(std::string_view pos) {
    uint64_t h = head_of(pos);
    auto before = [h](const Elem& a, std::string_view p) {
      return a.head != h ? a.head < h : a.pos < p;
    };
    if (elems_.empty() || before(elems_.back(), pos)) return elems_.end();
    if (!before(elems_.front(), pos)) return elems_.begin();
    return std::lower_bound(elems_.begin(), elems_.end(), pos, before);
  }

  tbb::spin_rw_mutex mu_;
  std::deque<Elem> elems_;
  std::map<std::string, MapEntry, std::less<>> tombs_;
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_LIST_INDEX_H_

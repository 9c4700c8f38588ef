// TreeIndex: PTreeMap's volatile index, an ordered map (key -> MapEntry)
// under one reader-writer spin lock: reads and ordered scans share it,
// updates hold it exclusively only to change an entry (after their record
// is durable, see map_core.h). Rebuilt at every open: from the log, or from
// the entries saved at a clean close (index_snapshot.h).
#ifndef NVOBJ_POBJECTS_TREE_INDEX_H_
#define NVOBJ_POBJECTS_TREE_INDEX_H_

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <oneapi/tbb/spin_rw_mutex.h>

#include "pobjects/map_core.h"

namespace nvobj::detail {

class TreeIndex {
  using Map = std::map<std::string, MapEntry, std::less<>>;

 public:
  struct Key {
    std::string_view s;
    uint64_t hash;  // for the update stripes
  };
  static Key key(std::string_view s) { return {s, std::hash<std::string_view>{}(s)}; }

  class SharedLock {
   public:
    SharedLock(TreeIndex& ix, const Key&) : lock_(ix.mu_, /*write=*/false) {}
    explicit SharedLock(TreeIndex& ix) : lock_(ix.mu_, false) {}

   private:
    tbb::spin_rw_mutex::scoped_lock lock_;
  };
  class ExclusiveLock {
   public:
    ExclusiveLock(TreeIndex& ix, const Key&) : lock_(ix.mu_, /*write=*/true) {}

   private:
    tbb::spin_rw_mutex::scoped_lock lock_;
  };

  MapEntry* find(const Key& k) {
    auto it = map_.find(k.s);
    return it == map_.end() ? nullptr : &it->second;
  }
  MapEntry& emplace(const Key& k, RecordLog::Loc loc) {
    auto it = map_.lower_bound(k.s);
    if (it != map_.end() && it->first == k.s) return it->second;
    it = map_.emplace_hint(it, std::string(k.s), MapEntry{});
    it->second.loc = loc;
    return it->second;
  }
  void erase(const Key& k) {
    if (auto it = map_.find(k.s); it != map_.end()) map_.erase(it);
  }

  // f(key, entry) for every entry, in key order, 256 at a time under the
  // shared lock; flush() after each batch, with no lock held.
  template <typename F, typename Flush>
  void for_each_locked(F&& f, Flush&& flush) {
    std::string after;
    bool started = false;
    for (;;) {
      bool more = false;
      {
        tbb::spin_rw_mutex::scoped_lock lock(mu_, false);
        auto it = started ? map_.upper_bound(after) : map_.begin();
        for (int n = 0; it != map_.end() && n < 256; ++it, ++n) f(it->first, it->second);
        more = it != map_.end();
        if (it != map_.begin()) {
          after = std::prev(it)->first;
          started = true;
        }
      }
      flush();
      if (!more) return;
    }
  }

  // Ordered reads, all under the shared lock (the caller's SharedLock).
  // f(key, entry) returns false to stop.
  template <typename F>
  void scan_up(std::string_view from, bool inclusive, F&& f) const {
    auto it = inclusive ? map_.lower_bound(from) : map_.upper_bound(from);
    for (; it != map_.end(); ++it)
      if (!f(std::string_view(it->first), it->second)) return;
  }
  // From the greatest key <= `from` (or < when !inclusive; the last key when
  // from is nullopt) downwards.
  template <typename F>
  void scan_down(std::optional<std::string_view> from, bool inclusive, F&& f) const {
    auto it = !from ? map_.end() : inclusive ? map_.upper_bound(*from) : map_.lower_bound(*from);
    while (it != map_.begin()) {
      --it;
      if (!f(std::string_view(it->first), it->second)) return;
    }
  }

  uint64_t dram_bytes() {
    tbb::spin_rw_mutex::scoped_lock lock(mu_, false);
    uint64_t b = 0;
    for (const auto& [k, e] : map_)
      b += 4 * sizeof(void*) + sizeof(Map::value_type) + (k.size() > 15 ? k.capacity() + 1 : 0);
    return b;
  }

 private:
  tbb::spin_rw_mutex mu_;
  Map map_;
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_TREE_INDEX_H_

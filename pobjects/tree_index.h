// TreeIndex: PTreeMap's volatile index, an ordered map (key -> MapEntry)
// under one reader-writer spin lock: reads and ordered scans share it,
// updates hold it exclusively only to change an entry (after their record
// is durable, see map_core.h). Rebuilt at every open: from the log, or from
// the entries saved at a clean close (index_snapshot.h).
//
// Point lookups (get, every update, the cleaner's repointing) go through a
// hash of the keys beside the tree, as Redis pairs a dict with each sorted
// set's skiplist: a tree walk costs ~17 cache misses at 100 K keys, the hash
// one or two. The tree keeps the order (inserts, scans, first/floor/...).
// The hash is open addressing (linear probing, 16-byte slots holding the
// key's hash and its tree node, at most half full): a lookup's first miss
// is its slot's line, the second the tree node, where the
// std::unordered_multimap used before added a miss for its own node
// between the two (docs/types.md). It is sharded so that no rehash moves
// more than 1/64 of the keys.
#ifndef NVOBJ_POBJECTS_TREE_INDEX_H_
#define NVOBJ_POBJECTS_TREE_INDEX_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
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
    Slot* s = lookup(k);
    return s == nullptr ? nullptr : &s->it->second;
  }
  MapEntry& emplace(const Key& k, RecordLog::Loc loc) {
    if (MapEntry* e = find(k)) return *e;
    Shard& sh = shard(k);
    if ((sh.used + 1) * 2 > sh.mask + 1) grow(sh);  // (may throw: nothing changed yet)
    auto it = map_.emplace_hint(map_.lower_bound(k.s), std::string(k.s), MapEntry{});
    uint64_t h = stored(k.hash);
    size_t i = h & sh.mask;
    while (sh.slots[i].hash != 0) i = (i + 1) & sh.mask;
    sh.slots[i] = Slot{h, it};
    ++sh.used;
    it->second.loc = loc;
    return it->second;
  }
  void erase(const Key& k) {
    Slot* s = lookup(k);
    if (s == nullptr) return;
    map_.erase(s->it);
    Shard& sh = shard(k);
    erase_slot(sh, static_cast<size_t>(s - sh.slots.get()));
  }
  // The cleaner repoints copied records in batches: their slots' lines are
  // fetched ahead. No lock (see HashIndex::prefetch): a stale array and
  // mask only prefetch a useless line.
  void prefetch(const Key& k) const {
    const Shard& sh = shard(k);
    const Slot* slots = sh.hint_slots.load(std::memory_order_relaxed);
    size_t mask = sh.hint_mask.load(std::memory_order_relaxed);
    if (slots == nullptr) return;
    // Integer arithmetic: the address may lie past a replaced array.
    __builtin_prefetch(reinterpret_cast<const void*>(reinterpret_cast<uintptr_t>(slots) +
                                                     (stored(k.hash) & mask) * sizeof(Slot)));
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
    for (const Shard& sh : by_hash_) b += sh.slots ? (sh.mask + 1) * sizeof(Slot) : 0;
    return b;
  }

 private:
  // A slot holds the key's hash (Key::hash, computed once per operation;
  // 0 marks an empty slot, so a hash of 0 is stored as 1) and its tree
  // node. Equal hashes are told apart by the tree's key.
  struct Slot {
    uint64_t hash = 0;
    Map::iterator it;
  };
  struct Shard {
    std::unique_ptr<Slot[]> slots;
    size_t mask = 0;  // slots - 1 (a power of two), once there are slots
    size_t used = 0;
    // slots and mask for prefetch(), which takes no lock.
    std::atomic<const Slot*> hint_slots{nullptr};
    std::atomic<size_t> hint_mask{0};
  };
  static constexpr size_t kHashShards = 64;
  static uint64_t stored(uint64_t hash) { return hash == 0 ? 1 : hash; }

  Shard& shard(const Key& k) { return by_hash_[(k.hash >> 58) % kHashShards]; }
  const Shard& shard(const Key& k) const { return by_hash_[(k.hash >> 58) % kHashShards]; }
  Slot* lookup(const Key& k) {
    Shard& sh = shard(k);
    if (!sh.slots) return nullptr;
    uint64_t h = stored(k.hash);
    for (size_t i = h & sh.mask;; i = (i + 1) & sh.mask) {
      Slot& s = sh.slots[i];
      if (s.hash == 0) return nullptr;
      if (s.hash == h && s.it->first == k.s) return &s;
    }
  }
  static void grow(Shard& sh) {
    size_t n = sh.slots ? 2 * (sh.mask + 1) : 16;
    std::unique_ptr<Slot[]> slots(new Slot[n]);
    for (size_t i = 0; sh.slots && i <= sh.mask; ++i) {
      if (sh.slots[i].hash == 0) continue;
      size_t j = sh.slots[i].hash & (n - 1);
      while (slots[j].hash != 0) j = (j + 1) & (n - 1);
      slots[j] = sh.slots[i];
    }
    sh.slots = std::move(slots);
    sh.mask = n - 1;
    // The mask first: with the old array and the new mask a prefetch may
    // address past it, which a prefetch tolerates.
    sh.hint_mask.store(sh.mask, std::memory_order_relaxed);
    sh.hint_slots.store(sh.slots.get(), std::memory_order_relaxed);
  }
  // Empties slot i, moving back the later slots of its run that may not
  // stay past the hole (linear probing keeps no tombstones).
  static void erase_slot(Shard& sh, size_t i) {
    for (size_t j = (i + 1) & sh.mask; sh.slots[j].hash != 0; j = (j + 1) & sh.mask) {
      size_t home = sh.slots[j].hash & sh.mask;
      // The slot at j may stay if its home is cyclically in (i, j].
      bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
      if (stays) continue;
      sh.slots[i] = sh.slots[j];
      i = j;
    }
    sh.slots[i].hash = 0;
    --sh.used;
  }

  tbb::spin_rw_mutex mu_;
  Map map_;
  std::array<Shard, kHashShards> by_hash_;
};

}  // namespace nvobj::detail

#endif  // NVOBJ_POBJECTS_TREE_INDEX_H_
